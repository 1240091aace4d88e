//! Deliveries to connections of other nodes (no stream part, so no position): published on
//! their nodes' channels, bounded in time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::try_join_all;

use super::connection::Connection;
use super::wire::Wire;
use super::{Inner, read};
use crate::broker::{BrokerError, EarlierPart, ForwardedAction, RemoteDelivery, Topic};

/// Publishes a delivery to connections of other nodes (no stream part): one `PUBLISH` per
/// node topic, in one round trip (in a cluster one `SPUBLISH` each, all at once). Returns
/// how many other nodes took it.
pub(super) async fn publish(
    inner: Arc<Inner>,
    delivery: RemoteDelivery,
    earlier: &[EarlierPart],
    timeout: Duration,
) -> Result<usize, BrokerError> {
    // The origin's own connections were delivered to already.
    let topics: Vec<&Topic> = delivery
        .topics()
        .into_iter()
        .filter(|topic| !matches!(topic, Topic::Node(node) if *node == delivery.origin))
        .collect();
    if topics.is_empty() {
        return Ok(0);
    }
    let channels: Vec<String> = topics.iter().map(|topic| inner.channel(topic)).collect();
    let payload = serde_json::to_vec(&Wire::new(&delivery, earlier, timeout))
        .expect("wire serialization is infallible");
    let lost = |why: String| {
        inner.lost.fetch_add(1, Ordering::Relaxed);
        Err(BrokerError::Unavailable(why))
    };
    let Some(publisher) = read(&inner.publisher) else {
        return lost("not connected to Redis".into());
    };
    // One message per topic; a node subscribed to several of them delivers the first copy
    // only.
    let publishing = publish_each(publisher, inner.names.sharded(), &channels, &payload);
    match tokio::time::timeout(timeout, publishing).await {
        Ok(Ok(receivers)) => {
            let subscribed = inner.subscribed();
            // This node's own subscriptions hear the publish too; not deliveries.
            Ok(topics
                .iter()
                .zip(receivers)
                .map(|(topic, n)| n.saturating_sub(usize::from(subscribed.contains(*topic))))
                .sum())
        }
        Ok(Err(error)) => lost(error.to_string()),
        Err(_) => lost(format!("Redis did not answer within {timeout:?}")),
    }
}

/// What starts a node channel's message carrying a forwarded SSE action (a delivery starts
/// with `{`, a stream run with `S`).
pub(super) const ACTION_MARK: u8 = b'A';

/// Publishes an SSE action on `node`'s channel; resolves to how many subscribers heard it
/// (the node, once, if it is alive).
pub(super) async fn forward(
    inner: Arc<Inner>,
    node: Arc<str>,
    action: ForwardedAction,
    timeout: Duration,
) -> Result<usize, BrokerError> {
    let channels = [inner.channel(&Topic::Node(node))];
    let mut payload = vec![ACTION_MARK];
    serde_json::to_writer(&mut payload, &action).expect("wire serialization is infallible");
    let Some(publisher) = read(&inner.publisher) else {
        return Err(BrokerError::Unavailable("not connected to Redis".into()));
    };
    let publishing = publish_each(publisher, inner.names.sharded(), &channels, &payload);
    match tokio::time::timeout(timeout, publishing).await {
        Ok(Ok(receivers)) => Ok(receivers.into_iter().sum()),
        Ok(Err(error)) => Err(BrokerError::Unavailable(error.to_string())),
        Err(_) => Err(BrokerError::Unavailable(format!(
            "Redis did not answer within {timeout:?}"
        ))),
    }
}

/// Publishes `payload` on each of `channels`: in one pipeline on one server; in a cluster one
/// `SPUBLISH` per channel (each on its own shard), all on their way at once.
async fn publish_each(
    mut publisher: Connection,
    sharded: bool,
    channels: &[String],
    payload: &[u8],
) -> redis::RedisResult<Vec<usize>> {
    if !sharded {
        let mut pipeline = redis::pipe();
        for channel in channels {
            pipeline.cmd("PUBLISH").arg(channel).arg(payload);
        }
        return pipeline.query_async(&mut publisher).await;
    }
    try_join_all(channels.iter().map(|channel| {
        let mut publisher = publisher.clone();
        let mut command = redis::cmd("SPUBLISH");
        command.arg(channel).arg(payload);
        async move { command.query_async::<usize>(&mut publisher).await }
    }))
    .await
}
