//! Stream deliveries to Redis: where each is published and how this node gets it back,
//! queued for the batcher (`batcher.rs`).
//!
//! An emit from inside a request waits until this node heard its delivery back and
//! delivered it to its own connections (the request's completion comes after them); one
//! from outside returns once the delivery is queued.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::runs::DeliveryArgs;
use super::wire::Wire;
use super::{Inner, read, streams};
use crate::broker::{BrokerError, EarlierPart, RemoteDelivery, StreamsReport, Topic};
use crate::hub::DeliveryReport;
use crate::limits::HistoryLimits;

/// How many deliveries may wait for the batcher; a sender waits beyond that.
pub(super) const QUEUE: usize = 8192;

/// One delivery for the batcher.
pub(super) struct Job {
    pub(super) delivery: RemoteDelivery,
    /// Its stream parts and message, as the script takes them.
    pub(super) args: DeliveryArgs,
    /// The channels to publish it on.
    pub(super) channels: Vec<String>,
    pub(super) history: HistoryLimits,
    /// Topics among the channels, to count this node's own subscriptions out of the reach.
    pub(super) topics: Vec<Topic>,
    /// Told how many other subscribers the publishes reached, when the sender waits.
    pub(super) done: Option<oneshot::Sender<Result<usize, BrokerError>>>,
    /// In a cluster, the key the script call is routed by (its stream's meta).
    pub(super) route: Option<String>,
    /// Whether the batcher delivers it to this node's connections from the script's reply:
    /// in a cluster, when this node does not listen to the stream's channel (its own node
    /// channel lives on another shard, so it cannot hear it back there).
    pub(super) local: bool,
    /// The parts of its emit before it, when it is a piece of one (a cluster).
    pub(super) earlier: Vec<EarlierPart>,
}

/// Publishes a delivery that is one piece (on one server, any delivery), leaving out the
/// connections of the `earlier` parts of its emit.
pub(super) async fn publish_one(
    inner: Arc<Inner>,
    jobs: mpsc::Sender<Job>,
    delivery: RemoteDelivery,
    earlier: Vec<EarlierPart>,
    history: HistoryLimits,
    timeout: Duration,
    await_local: bool,
) -> StreamsReport {
    if read(&inner.publisher).is_none() {
        return lost(&inner, &delivery, &earlier, "not connected to Redis".into());
    }
    let here = inner
        .inbox
        .get()
        .is_some_and(|inbox| inbox.reaches(&delivery));
    let Routing {
        topics,
        channels,
        route,
        local,
    } = if inner.names.sharded() {
        sharded_routing(&inner, &delivery, here)
    } else {
        routing(&inner, &delivery, here)
    };
    let message = serde_json::to_vec(&Wire::new(&delivery, &earlier, timeout))
        .expect("wire serialization is infallible");
    let args = streams::delivery_args(&inner.names, &delivery, message);
    let mut job = Job {
        delivery,
        args,
        channels,
        history,
        topics,
        done: None,
        route,
        local,
        earlier,
    };
    if !await_local {
        return match jobs.send(job).await {
            Ok(()) => StreamsReport::new(DeliveryReport::default(), Ok(1)),
            Err(mpsc::error::SendError(job)) => lost(
                &inner,
                &job.delivery,
                &job.earlier,
                "the broker stopped".into(),
            ),
        };
    }
    // Kept to deliver here should the publish fail.
    let (delivery, earlier) = (job.delivery.clone(), job.earlier.clone());
    let id = delivery.id;
    let heard = here.then(|| {
        let (echo, heard) = oneshot::channel();
        inner.echoes().insert(id, echo);
        heard
    });
    let (done, reached) = oneshot::channel();
    job.done = Some(done);
    if jobs.send(job).await.is_err() {
        inner.echoes().remove(&id);
        return lost(&inner, &delivery, &earlier, "the broker stopped".into());
    }
    let reached = match tokio::time::timeout(timeout, reached).await {
        Ok(Ok(Ok(reached))) => reached,
        Ok(Ok(Err(error))) => {
            inner.echoes().remove(&id);
            return lost(&inner, &delivery, &earlier, error.to_string());
        }
        _ => {
            inner.echoes().remove(&id);
            return lost(
                &inner,
                &delivery,
                &earlier,
                format!("Redis did not answer within {timeout:?}"),
            );
        }
    };
    let Some(heard) = heard else {
        return StreamsReport::new(DeliveryReport::default(), Ok(reached));
    };
    let local = match tokio::time::timeout(timeout, heard).await {
        Ok(Ok(report)) => report,
        _ => {
            inner.echoes().remove(&id);
            tracing::warn!(
                "a stream delivery was not heard back in time; this node's connections may get it late"
            );
            DeliveryReport::default()
        }
    };
    StreamsReport::new(local, Ok(reached))
}

/// Where a stream delivery is published, and how this node gets it.
pub(super) struct Routing {
    pub(super) topics: Vec<Topic>,
    /// Each after the letter of its command: `p` for `PUBLISH`, `s` for `SPUBLISH`.
    pub(super) channels: Vec<String>,
    pub(super) route: Option<String>,
    pub(super) local: bool,
}

/// On one server: every topic's channel, and, when one of this node's connections is
/// concerned, its own node channel: it hears its publish back there and delivers to them
/// then, in the order Redis gave positions.
fn routing(inner: &Inner, delivery: &RemoteDelivery, here: bool) -> Routing {
    let mut topics: Vec<Topic> = delivery.topics().into_iter().cloned().collect();
    let own = Topic::Node(delivery.origin.clone());
    topics.retain(|topic| *topic != own);
    if here {
        topics.push(own);
    }
    let channels = topics
        .iter()
        .map(|topic| format!("p{}", inner.channel(topic)))
        .collect();
    Routing {
        topics,
        channels,
        route: None,
        local: false,
    }
}

/// In a cluster, a piece with one stream part: on its stream's sharded channel, and a
/// group's also on the classic channel patterns listen to. This node hears it back on the
/// stream's channel if it listens there; if not, the batcher delivers it here from the
/// script's reply (its own node channel is on another shard).
fn sharded_routing(inner: &Inner, delivery: &RemoteDelivery, here: bool) -> Routing {
    let topic = delivery.parts[0].topic.clone();
    let stream = topic.stream().unwrap_or_default();
    let listening = inner.subscribed().contains(&topic);
    let mut channels = vec![format!("s{}", inner.channel(&topic))];
    if let Topic::Group(group) = &topic {
        channels.push(format!("p{}", inner.names.pattern_feed(group)));
    }
    Routing {
        topics: vec![topic],
        channels,
        route: Some(format!("{}:meta", inner.names.stream_base(&stream))),
        local: here && !listening,
    }
}

/// Without Redis no position can be given: this node still delivers to its own connections,
/// without one, and the other nodes lose the event.
pub(super) fn lost(
    inner: &Inner,
    delivery: &RemoteDelivery,
    earlier: &[EarlierPart],
    why: String,
) -> StreamsReport {
    inner.lost.fetch_add(1, Ordering::Relaxed);
    let local = deliver_locally(inner, delivery, earlier);
    StreamsReport::new(local, Err(BrokerError::Unavailable(why)))
}

/// Delivers to this node's connections, leaving out those of the `earlier` parts.
pub(super) fn deliver_locally(
    inner: &Inner,
    delivery: &RemoteDelivery,
    earlier: &[EarlierPart],
) -> DeliveryReport {
    let Some(inbox) = inner.inbox.get() else {
        return DeliveryReport::default();
    };
    if earlier.is_empty() {
        inbox.deliver(delivery)
    } else {
        inbox.deliver_after(delivery, earlier)
    }
}
