//! The connection task: connect, put back this node's presence counts, subscribe to
//! everything the node needs, deliver what arrives, apply subscription and membership
//! changes, heartbeat; on any failure start over after a backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::connection::{Connection, Subscriber};
use super::inbound::{Positions, deliver};
use super::presence::HEARTBEAT;
use super::streams;
use super::{Command, Inner, write};
use crate::broker::{BrokerError, Inbox, Topic};

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
    // Kept across reconnections: the first event after an outage shows what it cost.
    let mut positions = Positions::default();
    while inbox.is_alive() {
        let connections_before = inner.reconnects.load(Ordering::Relaxed);
        match connect_and_serve(&inner, &inbox, &mut commands, &mut positions).await {
            Ok(Stop) => {
                inner.accepting.store(false, Ordering::Release);
                say_goodbye(&inner).await;
                break;
            }
            Err(error) => {
                inner.accepting.store(false, Ordering::Release);
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

/// What the task is doing with membership changes.
struct Session {
    publisher: Connection,
    /// Skipping them until [`Command::Mark`]: the counts put back include them.
    skipping: bool,
}

async fn connect_and_serve(
    inner: &Inner,
    inbox: &Inbox,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    positions: &mut Positions,
) -> redis::RedisResult<Stop> {
    let (publisher, mut subscriber) = inner.client.connect().await?;
    let mut session = Session {
        publisher: publisher.clone(),
        skipping: false,
    };
    let node = inner.node.get().cloned().unwrap_or_default();
    // The batcher calls the stream script by its hash, in pipelines.
    streams::load(&mut session.publisher).await?;
    inner.presences().load(&mut session.publisher).await?;
    // From here on changes queue up; the state read below includes every one before.
    inner.accepting.store(true, Ordering::Release);
    // Presence first, so a node that was reaped while away is back before anyone asks.
    put_presence_back(inner, inbox, &node, &mut session).await?;
    // Subscribe to the current needs first, then apply changes queued meanwhile in order:
    // the result matches the hub whichever way they interleaved.
    subscribe(inner, &mut subscriber, inbox.topics()).await?;
    while let Ok(command) = commands.try_recv() {
        apply(
            inner,
            &node,
            &mut subscriber,
            &mut session,
            positions,
            command,
        )
        .await?;
    }
    // Publishing works from here on, and what others publish reaches this node (pub/sub
    // keeps no history); every later change is applied in the order it was made.
    write(&inner.publisher, Some(publisher));
    inner.reconnects.fetch_add(1, Ordering::Relaxed);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    // One timer for the whole session, not one per message.
    let mut idle = tokio::time::interval(Duration::from_secs(1));
    idle.tick().await;
    loop {
        if !inbox.is_alive() {
            return Ok(Stop);
        }
        tokio::select! {
            message = subscriber.next() => {
                let message = message?;
                let channel = message.get_channel_name();
                deliver(inner, inbox, &node, positions, channel, message.get_payload_bytes());
            }
            command = commands.recv() => match command {
                Some(command) if batchable(&command) => {
                    // Subscriptions and membership changes queued together go in a round
                    // trip each; the command that ends the run is applied after them.
                    let (run, next) = queued_run(command, commands);
                    apply_run(inner, &node, &mut subscriber, &mut session, run).await?;
                    if let Some(command) = next {
                        apply(inner, &node, &mut subscriber, &mut session, positions, command).await?;
                    }
                }
                Some(command) => {
                    apply(inner, &node, &mut subscriber, &mut session, positions, command).await?;
                }
                None => return Ok(Stop),
            },
            _ = heartbeat.tick() => {
                if inner.presences().tick(&mut session.publisher, &node).await? {
                    tracing::warn!("this node's presence was reaped while it could not reach Redis; putting it back");
                    put_presence_back(inner, inbox, &node, &mut session).await?;
                }
            }
            // Wakes an idle loop now and then to notice a node that is gone.
            _ = idle.tick() => {}
        }
    }
}

/// Replaces what Redis counts for this node with the hub's counts, and skips the membership
/// changes those include.
async fn put_presence_back(
    inner: &Inner,
    inbox: &Inbox,
    node: &str,
    session: &mut Session,
) -> redis::RedisResult<()> {
    let counts = inbox.presence(|| {
        let _ = inner.commands.send(Command::Mark);
    });
    session.skipping = true;
    inner
        .presences()
        .sync(&mut session.publisher, node, &counts, true)
        .await
}

/// The node is gone: its members leave at once instead of when the reaper notices.
async fn say_goodbye(inner: &Inner) {
    let (Some(node), Some(mut publisher)) = (inner.node.get(), super::read(&inner.publisher))
    else {
        return;
    };
    let presences = inner.presences();
    let goodbye = presences.sync(&mut publisher, node, &[], false);
    if let Err(error) = goodbye.await {
        tracing::warn!(%error, "could not remove this node's presence from Redis; the reaper will");
    }
}

async fn apply(
    inner: &Inner,
    node: &str,
    subscriber: &mut Subscriber,
    session: &mut Session,
    positions: &mut Positions,
    command: Command,
) -> redis::RedisResult<()> {
    match command {
        Command::Unsubscribe(topic) => {
            // What is published from now on is not for this node: not a loss.
            positions.forget(&topic);
            let channel = inner.channel(&topic);
            if matches!(topic, Topic::Pattern(_)) {
                subscriber.punsubscribe(&channel).await?;
            } else {
                subscriber.unsubscribe(&channel).await?;
            }
            inner.subscribed().remove(&topic);
            Ok(())
        }
        command @ (Command::Subscribe(_) | Command::Membership(_)) => {
            apply_run(inner, node, subscriber, session, vec![command]).await
        }
        Command::Mark => {
            session.skipping = false;
            Ok(())
        }
        Command::Barrier(reply) => {
            let _ = reply.send(());
            Ok(())
        }
        Command::Presence(group, reply) => {
            let answer = inner
                .presences()
                .snapshot(&mut session.publisher, &group)
                .await;
            let _ = reply.send(
                answer
                    .as_ref()
                    .map_err(|error| BrokerError::Unavailable(error.to_string()))
                    .cloned(),
            );
            answer.map(drop)
        }
    }
}

/// The most channels in one `SUBSCRIBE` (or patterns in one `PSUBSCRIBE`).
const SUBSCRIBE_CHUNK: usize = 1024;

/// Whether `command` may be applied in a run with the others like it: subscriptions to
/// users, groups, nodes and patterns, and membership changes. They are independent of one
/// another, so a run applies all its subscriptions, then all its changes. A subscription to
/// a group's presence notices is not: it must come after the changes queued before it (or
/// the node hears of them) and before those queued after it (or it misses them).
fn batchable(command: &Command) -> bool {
    match command {
        Command::Subscribe(topic) => !matches!(topic, Topic::Presence(_)),
        Command::Membership(_) => true,
        _ => false,
    }
}

/// `first`, and the [`batchable`] commands queued right behind it (up to
/// [`SUBSCRIBE_CHUNK`]); then the command that ended the run, if one did.
fn queued_run(
    first: Command,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> (Vec<Command>, Option<Command>) {
    let mut run = vec![first];
    while run.len() < SUBSCRIBE_CHUNK {
        match commands.try_recv() {
            Ok(command) if batchable(&command) => run.push(command),
            Ok(other) => return (run, Some(other)),
            Err(_) => break,
        }
    }
    (run, None)
}

/// Applies a run of subscriptions and membership changes: the subscriptions in one round
/// trip, then the changes (in order) in another.
async fn apply_run(
    inner: &Inner,
    node: &str,
    subscriber: &mut Subscriber,
    session: &mut Session,
    run: Vec<Command>,
) -> redis::RedisResult<()> {
    let mut topics = Vec::new();
    let mut changes = Vec::new();
    for command in run {
        match command {
            Command::Subscribe(topic) => topics.push(topic),
            Command::Membership(change) => changes.push(change),
            _ => unreachable!("a run holds subscriptions and membership changes"),
        }
    }
    subscribe(inner, subscriber, topics).await?;
    if session.skipping || changes.is_empty() {
        return Ok(());
    }
    inner
        .presences()
        .changes(&mut session.publisher, node, &changes)
        .await
}

/// Subscribes to `topics`: exact channels and patterns each in chunks of
/// [`SUBSCRIBE_CHUNK`], one round trip per chunk instead of one per topic.
async fn subscribe(
    inner: &Inner,
    subscriber: &mut Subscriber,
    topics: Vec<Topic>,
) -> redis::RedisResult<()> {
    let (patterns, exact): (Vec<Topic>, Vec<Topic>) = topics
        .into_iter()
        .partition(|topic| matches!(topic, Topic::Pattern(_)));
    for (topics, pattern) in [(exact, false), (patterns, true)] {
        for chunk in topics.chunks(SUBSCRIBE_CHUNK) {
            let channels: Vec<String> = chunk.iter().map(|topic| inner.channel(topic)).collect();
            if pattern {
                subscriber.psubscribe(&channels).await?;
            } else {
                subscriber.subscribe(&channels).await?;
            }
            inner.subscribed().extend(chunk.iter().cloned());
        }
    }
    Ok(())
}
