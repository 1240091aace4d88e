//! The batcher: one task takes every stream delivery of this node from one queue and sends
//! whatever accumulated while the previous batches were in flight as one script call (in a
//! cluster, one per stream), so one sender that does not wait gets many events per round
//! trip and many senders share round trips. Redis runs the calls in queue order, so each
//! stream's offsets follow this node's order of emits.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::mpsc;

use super::connection::Connection;
use super::publisher::{Job, deliver_locally, lost};
use super::runs::{self, RunPositions};
use super::{Inner, read, streams};
use crate::broker::{BrokerError, EarlierPart, RemoteDelivery};
use crate::limits::HistoryLimits;

/// The most deliveries in one script call.
const BATCH: usize = 256;
/// The most script calls on their way at once.
const IN_FLIGHT: usize = 4;

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

/// Sends one batch and tells each sender how it went: as one script call on one server; in
/// a cluster as one call per run (each touches one stream, so one slot), all on their way
/// at once.
async fn send(inner: &Inner, mut batch: Vec<Job>, timeout: Duration) {
    let Some(publisher) = read(&inner.publisher) else {
        return fail(inner, batch, "not connected to Redis");
    };
    // One dispatcher's deliveries: one history configuration.
    let history = batch[0].history;
    let runs = runs_of(&batch);
    let replies: Vec<Result<RunReply, String>> = if inner.names.sharded() {
        let calls = runs.iter().map(|run| {
            let route = batch[run.start].route.as_deref();
            let call = script_call(&batch, std::slice::from_ref(run), history, route);
            invoke(publisher.clone(), call, 1, timeout)
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(|reply| reply.and_then(|mut replies| replies.pop().ok_or_else(String::new)))
            .collect()
    } else {
        let call = script_call(&batch, &runs, history, None);
        match invoke(publisher, call, runs.len(), timeout).await {
            Ok(replies) => replies.into_iter().map(Ok).collect(),
            Err(why) => vec![Err(why); runs.len()],
        }
    };
    let mut failed = Vec::new();
    let mut local = Vec::new();
    {
        // Telling a sender never blocks: the set stays locked for the loop, not copied.
        let subscribed = inner.subscribed();
        for (run, reply) in runs.into_iter().zip(replies) {
            let (reached, header) = match reply {
                Ok(reply) => reply,
                Err(why) => {
                    failed.push((run, why));
                    continue;
                }
            };
            let mut positions = RunPositions::parse(&header);
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
                // Every delivery of the run is counted, in order, to position those after it.
                if job.local {
                    let mut delivery = job.delivery.clone();
                    let positioned = positions
                        .as_mut()
                        .is_some_and(|run| run.position(&mut delivery));
                    local.push((delivery, std::mem::take(&mut job.earlier), positioned));
                } else if let Some(run) = positions.as_mut() {
                    run.skip(&job.delivery);
                }
            }
        }
    }
    for (delivery, earlier, positioned) in local {
        deliver_here(inner, &delivery, &earlier, positioned);
    }
    // Last to first, so the ranges stay valid as their jobs are taken out.
    for (run, why) in failed.into_iter().rev() {
        let jobs: Vec<Job> = batch.drain(run).collect();
        fail(inner, jobs, &why);
    }
}

/// A run's reply: how many subscribers its publishes reached, and its header (the positions
/// of its streams before it, `runs.rs`).
type RunReply = (usize, String);

/// The script call for `runs` of `batch`, routed by `route` in a cluster.
fn script_call(
    batch: &[Job],
    runs: &[std::ops::Range<usize>],
    history: HistoryLimits,
    route: Option<&str>,
) -> redis::Cmd {
    let mut call = redis::cmd("EVALSHA");
    call.arg(streams::APPEND_AND_PUBLISH.get_hash());
    match route {
        Some(key) => call.arg(1).arg(key),
        None => call.arg(0),
    };
    call.arg(&streams::batch_args(history, runs.len()));
    for run in runs {
        let channels = &batch[run.start].channels;
        call.arg(channels.len()).arg(channels);
        call.arg(runs::run_args(
            batch[run.clone()].iter().map(|job| &job.args),
        ));
    }
    call
}

/// Runs `call`, expecting `runs` replies, within `timeout`. A shard that restarted lost the
/// script: it is loaded again and the call repeated once.
async fn invoke(
    mut publisher: Connection,
    call: redis::Cmd,
    runs: usize,
    timeout: Duration,
) -> Result<Vec<RunReply>, String> {
    let attempts = async {
        let mut reloaded = false;
        loop {
            match call.query_async::<Vec<RunReply>>(&mut publisher).await {
                Ok(replies) if replies.len() == runs => return Ok(replies),
                Ok(_) => return Err("Redis answered a batch in part".to_owned()),
                Err(error) if !reloaded && error.kind() == NO_SCRIPT => {
                    reloaded = true;
                    streams::load(&mut publisher)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Err(error) => return Err(error.to_string()),
            }
        }
    };
    match tokio::time::timeout(timeout, attempts).await {
        Ok(outcome) => outcome,
        Err(_) => Err("Redis did not answer in time".to_owned()),
    }
}

const NO_SCRIPT: redis::ErrorKind = redis::ErrorKind::Server(redis::ServerErrorKind::NoScript);

/// Delivers `delivery`, positioned as the script said (unless its positions did not match
/// it), to this node's connections, and tells the sender waiting for that.
fn deliver_here(
    inner: &Inner,
    delivery: &RemoteDelivery,
    earlier: &[EarlierPart],
    positioned: bool,
) {
    if !positioned {
        tracing::warn!("a stream delivery's positions do not match it; not delivered here");
        return;
    }
    let report = deliver_locally(inner, delivery, earlier);
    if let Some(echo) = inner.echoes().remove(&delivery.id) {
        let _ = echo.send(report);
    }
}

/// The batch's runs: consecutive jobs published on the same channels, which the script
/// publishes as one message per channel.
fn runs_of(batch: &[Job]) -> Vec<std::ops::Range<usize>> {
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
                lost(inner, &job.delivery, &job.earlier, why.to_owned());
            }
        }
    }
}
