//! Stream deliveries in a Redis Cluster. A script call touches one slot, so a delivery is
//! published as pieces: one per stream part (appended and published on its stream's shard)
//! and one for its connection parts. A node cannot hear its publish back on its own node
//! channel (another shard): it hears it on the stream's channel when it listens there, and
//! otherwise delivers to its connections from the script's reply.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, join_all};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Inner;
use super::direct;
use super::publisher::{self, Job};
use crate::broker::{EarlierPart, RemoteDelivery, StreamsReport};
use crate::hub::DeliveryReport;
use crate::limits::HistoryLimits;

/// A delivery published on its own, and the parts of its emit that come before it.
pub(super) type Piece = (RemoteDelivery, Vec<EarlierPart>);

/// The pieces `delivery` is published as, one per part; `None` when it is one piece
/// already (a single stream part). Each piece leaves out the connections of the parts
/// before it, so a connection that several parts reach gets the event once, from the first
/// (as on one server).
pub(super) fn pieces(delivery: &RemoteDelivery) -> Option<Vec<Piece>> {
    if let [part] = delivery.parts.as_slice()
        && part.topic.stream().is_some()
    {
        return None;
    }
    let mut earlier: Vec<EarlierPart> = Vec::new();
    let mut pieces = Vec::with_capacity(delivery.parts.len());
    for part in &delivery.parts {
        let piece = RemoteDelivery {
            // Each piece is a delivery of its own: a node that gets two of them delivers
            // both (less the connections the first reached).
            id: Uuid::new_v4(),
            parts: vec![part.clone()],
            except: delivery.except.clone(),
            origin: delivery.origin.clone(),
        };
        pieces.push((piece, earlier.clone()));
        earlier.push((part.topic.clone(), part.connections.clone()));
    }
    Some(pieces)
}

/// Publishes the pieces of a delivery, all at once, and sums up what they did.
pub(super) async fn publish_pieces(
    inner: Arc<Inner>,
    jobs: mpsc::Sender<Job>,
    pieces: Vec<Piece>,
    history: HistoryLimits,
    timeout: Duration,
    await_local: bool,
) -> StreamsReport {
    let reports = join_all(
        pieces
            .into_iter()
            .map(|(piece, earlier)| -> BoxFuture<'static, _> {
                if piece.parts[0].topic.stream().is_some() {
                    let publishing = publisher::publish_one(
                        inner.clone(),
                        jobs.clone(),
                        piece,
                        earlier,
                        history,
                        timeout,
                        await_local,
                    );
                    Box::pin(publishing)
                } else {
                    let inner = inner.clone();
                    Box::pin(async move {
                        let here = publisher::deliver_locally(&inner, &piece, &earlier);
                        let published = direct::publish(inner, piece, &earlier, timeout).await;
                        StreamsReport::new(here, published)
                    })
                }
            }),
    )
    .await;
    let mut local = DeliveryReport::default();
    let mut published = Ok(0);
    for report in reports {
        local.add(report.local);
        published = match (published, report.published) {
            (Ok(sum), Ok(more)) => Ok(sum + more),
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
    }
    StreamsReport::new(local, published)
}
