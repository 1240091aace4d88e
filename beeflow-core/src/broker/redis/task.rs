//! The connection task: connect, subscribe to everything the node needs, deliver what
//! arrives, apply subscription changes; on any failure start over after a backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::PubSubSink;
use tokio::sync::mpsc;

use super::wire::Wire;
use super::{Command, Inner, write};
use crate::broker::Inbox;

/// The first wait before reconnecting; doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until the node is gone.
pub(super) async fn run(
    inner: Arc<Inner>,
    inbox: Inbox,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut backoff = MIN_BACKOFF;
    while inbox.is_alive() {
        let connections_before = inner.reconnects.load(Ordering::Relaxed);
        match connect_and_serve(&inner, &inbox, &mut commands).await {
            Ok(Stop) => break,
            Err(error) => {
                write(&inner.publisher, None);
                inner.subscribed().clear();
                tracing::warn!(%error, "Redis broker disconnected; deliveries to other nodes are lost until it reconnects");
            }
        }
        if inner.reconnects.load(Ordering::Relaxed) > connections_before {
            // It was connected: this is a new outage, not a continuing one.
            backoff = MIN_BACKOFF;
        }
        // Equal jitter (half fixed, half random): nodes that lost Redis together do not
        // reconnect in lockstep.
        tokio::time::sleep(backoff.mul_f64(0.5 + fastrand::f64() / 2.0)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    write(&inner.publisher, None);
}

/// The node is gone: the task ends.
struct Stop;

async fn connect_and_serve(
    inner: &Inner,
    inbox: &Inbox,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> redis::RedisResult<Stop> {
    let publisher = inner.client.get_multiplexed_async_connection().await?;
    let (mut sink, mut stream) = inner.client.get_async_pubsub().await?.split();
    // Publishing works from here on; what others publish reaches this node once each
    // subscription below is in place (pub/sub keeps no history).
    write(&inner.publisher, Some(publisher));
    inner.reconnects.fetch_add(1, Ordering::Relaxed);
    // Subscribe to the current needs first, then apply changes queued meanwhile in order:
    // the result matches the hub whichever way they interleaved.
    for topic in inbox.topics() {
        subscribe(inner, &mut sink, inner.channel(&topic)).await?;
    }
    while let Ok(command) = commands.try_recv() {
        apply(inner, &mut sink, command).await?;
    }
    let node = inner.node.get().cloned().unwrap_or_default();
    loop {
        if !inbox.is_alive() {
            return Ok(Stop);
        }
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err(redis::RedisError::from((redis::ErrorKind::Io, "subscription closed")));
                };
                deliver(inner, inbox, &node, message.get_channel_name(), message.get_payload_bytes());
            }
            command = commands.recv() => match command {
                Some(command) => apply(inner, &mut sink, command).await?,
                None => return Ok(Stop),
            },
            // Wakes an idle loop now and then to notice a node that is gone.
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn apply(inner: &Inner, sink: &mut PubSubSink, command: Command) -> redis::RedisResult<()> {
    match command {
        Command::Subscribe(channel) => subscribe(inner, sink, channel).await,
        Command::Unsubscribe(channel) => {
            sink.unsubscribe(&channel).await?;
            inner.subscribed().remove(&channel);
            Ok(())
        }
    }
}

async fn subscribe(
    inner: &Inner,
    sink: &mut PubSubSink,
    channel: String,
) -> redis::RedisResult<()> {
    sink.subscribe(&channel).await?;
    inner.subscribed().insert(channel);
    Ok(())
}

fn deliver(inner: &Inner, inbox: &Inbox, node: &str, channel: &str, payload: &[u8]) {
    let Ok(wire) = serde_json::from_slice::<Wire<'_>>(payload) else {
        tracing::warn!(channel, "ignored a message that is not a beeflow delivery");
        return;
    };
    if wire.origin == node {
        // Our own publish on a channel we also listen to: delivered locally already.
        return;
    }
    if wire.expired() {
        // Redis held it past the publisher's timeout (it was frozen, or far behind): the
        // publisher reported it lost, and lost it stays.
        inner.expired.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::broker_expired();
        tracing::warn!(
            channel,
            "dropped a delivery that arrived after its publisher gave up on it"
        );
        return;
    }
    let Some(delivery) = wire.into_delivery() else {
        tracing::warn!(channel, "ignored a malformed beeflow delivery");
        return;
    };
    inbox.deliver(&delivery);
}
