//! Stream deliveries to Redis, batched: every user and group delivery of this node goes
//! through one queue to one task, which sends whatever accumulated while the previous batch
//! was in flight as one script call. One sender that does not wait gets many
//! events per round trip, and many senders share round trips; Redis runs the scripts in
//! queue order, so each stream's offsets follow this node's order of emits.
//!
//! An emit from inside a request waits until this node heard its delivery back and
//! delivered it to its own connections (the request's completion comes after them); one
//! from outside returns once the delivery is queued.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::{mpsc, oneshot};

use super::wire::Wire;
use super::{Inner, read, streams};
use crate::broker::{BrokerError, RemoteDelivery, StreamsReport, Topic};
use crate::hub::DeliveryReport;
use crate::limits::HistoryLimits;

/// How many deliveries may wait for the batcher; a sender waits beyond that.
pub(super) const QUEUE: usize = 8192;
/// The most deliveries in one script call.
const BATCH: usize = 256;
/// The most script calls on their way at once.
const IN_FLIGHT: usize = 4;

/// One delivery for the batcher.
pub(super) struct Job {
    delivery: RemoteDelivery,
    /// Its stream parts and message, as the script takes them.
    args: Vec<Vec<u8>>,
    /// The channels to publish it on.
    channels: Vec<String>,
    history: HistoryLimits,
    /// Topics among the channels, to count this node's own subscriptions out of the reach.
    topics: Vec<Topic>,
    /// Told how many other subscribers the publishes reached, when the sender waits.
    done: Option<oneshot::Sender<Result<usize, BrokerError>>>,
}

/// Publishes `delivery` (a user or group delivery) through the batcher.
pub(super) async fn publish_streams(
    inner: Arc<Inner>,
    jobs: mpsc::Sender<Job>,
    delivery: RemoteDelivery,
    history: HistoryLimits,
    timeout: Duration,
    await_local: bool,
) -> StreamsReport {
    if read(&inner.publisher).is_none() {
        return lost(&inner, &delivery, "not connected to Redis".into());
    }
    // Every topic's channel, and, when one of its connections is concerned, this node's
    // own: it hears its publish back there and delivers to them then, in the order Redis
    // gave positions.
    let here = inner
        .inbox
        .get()
        .is_some_and(|inbox| inbox.reaches(&delivery));
    let mut topics: Vec<Topic> = delivery.topics().into_iter().cloned().collect();
    let own = Topic::Node(delivery.origin.clone());
    topics.retain(|topic| *topic != own);
    if here {
        topics.push(own);
    }
    let channels: Vec<String> = topics.iter().map(|topic| inner.channel(topic)).collect();
    let message = serde_json::to_vec(&Wire::new(&delivery, timeout))
        .expect("wire serialization is infallible");
    let args = streams::delivery_args(&delivery, message);
    let id = delivery.id;
    if !await_local {
        let job = Job {
            delivery,
            args,
            channels,
            history,
            topics,
            done: None,
        };
        return match jobs.send(job).await {
            Ok(()) => StreamsReport::new(DeliveryReport::default(), Ok(1)),
            Err(mpsc::error::SendError(job)) => {
                lost(&inner, &job.delivery, "the broker stopped".into())
            }
        };
    }
    let heard = here.then(|| {
        let (echo, heard) = oneshot::channel();
        inner.echoes().insert(id, echo);
        heard
    });
    let (done, reached) = oneshot::channel();
    let job = Job {
        delivery: delivery.clone(),
        args,
        channels,
        history,
        topics,
        done: Some(done),
    };
    if jobs.send(job).await.is_err() {
        inner.echoes().remove(&id);
        return lost(&inner, &delivery, "the broker stopped".into());
    }
    let reached = match tokio::time::timeout(timeout, reached).await {
        Ok(Ok(Ok(reached))) => reached,
        Ok(Ok(Err(error))) => {
            inner.echoes().remove(&id);
            return lost(&inner, &delivery, error.to_string());
        }
        _ => {
            inner.echoes().remove(&id);
            return lost(
                &inner,
                &delivery,
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

/// Without Redis no position can be given: this node still delivers to its own connections,
/// without one, and the other nodes lose the event.
fn lost(inner: &Inner, delivery: &RemoteDelivery, why: String) -> StreamsReport {
    inner.lost.fetch_add(1, Ordering::Relaxed);
    let local = inner
        .inbox
        .get()
        .map(|inbox| inbox.deliver(delivery))
        .unwrap_or_default();
    StreamsReport::new(local, Err(BrokerError::Unavailable(why)))
}

/// Runs the batcher until the broker is dropped.
///
/// Up to [`IN_FLIGHT`] batches are on their way at once, so Redis runs one while the next
/// forms. They still run in queue order: each batch's call is handed to the connection on
/// its first poll, `FuturesOrdered` polls new batches first in the order they were pushed,
/// and the connection writes calls in the order it was handed them.
pub(super) async fn run(inner: Arc<Inner>, mut jobs: mpsc::Receiver<Job>, timeout: Duration) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut in_flight = FuturesOrdered::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            // A finished batch first: it frees a place.
            biased;
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            received = jobs.recv_many(&mut batch, BATCH), if open && in_flight.len() < IN_FLIGHT => {
                if received == 0 {
                    open = false;
                } else {
                    in_flight.push_back(send(&inner, std::mem::take(&mut batch), timeout));
                }
            }
        }
    }
}

/// Sends one batch as one script call and tells each sender how it went.
async fn send(inner: &Inner, mut batch: Vec<Job>, timeout: Duration) {
    let Some(mut publisher) = read(&inner.publisher) else {
        return fail(inner, batch, "not connected to Redis");
    };
    // One dispatcher's deliveries: one history configuration.
    let history = batch[0].history;
    let runs = runs(&batch);
    let mut call = redis::cmd("EVALSHA");
    call.arg(streams::APPEND_AND_PUBLISH.get_hash()).arg(0);
    call.arg(&streams::batch_args(&inner.prefix, history, runs.len()));
    for run in &runs {
        let channels = &batch[run.start].channels;
        call.arg(channels.len()).arg(channels).arg(run.len());
        for job in &batch[run.clone()] {
            call.arg(&job.args);
        }
    }
    let sent = call.query_async::<Vec<usize>>(&mut publisher);
    let replies = match tokio::time::timeout(timeout, sent).await {
        Ok(Ok(replies)) if replies.len() == runs.len() => replies,
        Ok(Ok(_)) => return fail(inner, batch, "Redis answered a batch in part"),
        Ok(Err(error)) => return fail(inner, batch, &error.to_string()),
        Err(_) => return fail(inner, batch, "Redis did not answer in time"),
    };
    // Telling a sender never blocks: the set stays locked for the loop, not copied.
    let subscribed = inner.subscribed();
    for (run, reached) in runs.into_iter().zip(replies) {
        for job in &mut batch[run] {
            // This node's subscriptions among the channels heard it too; not other nodes.
            let own = job
                .topics
                .iter()
                .filter(|t| subscribed.contains(*t))
                .count();
            if let Some(done) = job.done.take() {
                let _ = done.send(Ok(reached.saturating_sub(own)));
            }
        }
    }
}

/// The batch's runs: consecutive jobs published on the same channels, which the script
/// publishes as one message per channel.
fn runs(batch: &[Job]) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (index, job) in batch.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if batch[run.start].channels == job.channels => run.end = index + 1,
            _ => runs.push(index..index + 1),
        }
    }
    runs
}

fn fail(inner: &Inner, batch: Vec<Job>, why: &str) {
    tracing::warn!(
        deliveries = batch.len(),
        error = why,
        "deliveries for other nodes were lost"
    );
    for job in batch {
        match job.done {
            // The sender delivers to this node's connections itself.
            Some(done) => {
                let _ = done.send(Err(BrokerError::Unavailable(why.to_owned())));
            }
            None => {
                lost(inner, &job.delivery, why.to_owned());
            }
        }
    }
}

/// Publishes a delivery to connections of other nodes (no stream part): one `PUBLISH` per
/// node topic, in one round trip. Returns how many other nodes took it.
pub(super) async fn publish(
    inner: Arc<Inner>,
    delivery: RemoteDelivery,
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
    let payload = serde_json::to_vec(&Wire::new(&delivery, timeout))
        .expect("wire serialization is infallible");
    let lost = |why: String| {
        inner.lost.fetch_add(1, Ordering::Relaxed);
        Err(BrokerError::Unavailable(why))
    };
    let Some(mut publisher) = read(&inner.publisher) else {
        return lost("not connected to Redis".into());
    };
    // One message per topic, in one round trip; a node subscribed to several of them
    // delivers the first copy only.
    let mut pipeline = redis::pipe();
    for channel in &channels {
        pipeline.cmd("PUBLISH").arg(channel).arg(&payload);
    }
    let publishing = pipeline.query_async::<Vec<usize>>(&mut publisher);
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
