//! A broker on Redis pub/sub (cargo feature `redis`).
//!
//! Each node subscribes to its own node channel and to one channel per user and group it
//! has local members of; publishing a delivery is one `PUBLISH`. When Redis goes away the
//! node keeps serving its own connections, reports what it could not publish as lost,
//! reconnects with exponential backoff and jitter, and resubscribes everything its
//! connections need. Delivery across nodes is at most once (see `docs/scaling.md`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Broker, BrokerError, Inbox, PublishFuture, RemoteDelivery, Topic};
use crate::envelope::EventFrame;
use crate::recipient::ConnectionId;

/// The first wait before reconnecting; doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A [`Broker`] on Redis pub/sub. One per node:
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use beeflow_core::Dispatcher;
/// use beeflow_core::broker::RedisBroker;
///
/// let dispatcher = Dispatcher::builder()
///     .broker(RedisBroker::new("redis://127.0.0.1:6379/")?)
///     .build()?;
/// # let _ = dispatcher;
/// # Ok(())
/// # }
/// ```
///
/// The dispatcher must be built inside a Tokio runtime: the broker runs its connection in a
/// task of that runtime.
#[derive(Clone)]
pub struct RedisBroker {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    /// The publishing connection while Redis is reachable.
    publisher: RwLock<Option<MultiplexedConnection>>,
    /// Subscription changes for the connection task, in the order the hub made them.
    commands: mpsc::UnboundedSender<Command>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
    /// Channels this node is subscribed to now (its own publishes come back on them).
    subscribed: Mutex<HashSet<String>>,
    node: OnceLock<Arc<str>>,
    lost: AtomicU64,
    reconnects: AtomicU64,
}

enum Command {
    Subscribe(String),
    Unsubscribe(String),
}

/// A delivery as it crosses Redis. Strings borrow from the message where they can (the
/// event text is JSON, so it arrives escaped and is decoded into an owned string).
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    origin: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    connections: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    seq_at: usize,
    droppable: bool,
}

impl RedisBroker {
    /// A broker for the Redis at `url` (e.g. `redis://127.0.0.1:6379/`), with channels
    /// under the prefix `beeflow`. Nothing connects until a dispatcher is built with it.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Unavailable`] when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, BrokerError> {
        Self::with_prefix(url, "beeflow")
    }

    /// Like [`RedisBroker::new`], with channels under `prefix` (to share one Redis between
    /// applications).
    ///
    /// # Errors
    ///
    /// [`BrokerError::Unavailable`] when `url` is not a Redis URL.
    pub fn with_prefix(url: &str, prefix: &str) -> Result<Self, BrokerError> {
        let client = redis::Client::open(url)
            .map_err(|e| BrokerError::Unavailable(format!("invalid Redis URL: {e}")))?;
        let (commands, receiver) = mpsc::unbounded_channel();
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                prefix: prefix.to_owned(),
                publisher: RwLock::new(None),
                commands,
                receiver: Mutex::new(Some(receiver)),
                subscribed: Mutex::default(),
                node: OnceLock::new(),
                lost: AtomicU64::new(0),
                reconnects: AtomicU64::new(0),
            }),
        })
    }

    /// Deliveries for other nodes that could not be published (Redis unreachable).
    pub fn lost(&self) -> u64 {
        self.inner.lost.load(Ordering::Relaxed)
    }

    /// How many times the connection to Redis was (re)established.
    pub fn connections_made(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// Whether this node is subscribed to `topic` now: a delivery published before the
    /// subscription is in place does not reach this node (pub/sub keeps no history).
    pub fn is_subscribed(&self, topic: &Topic) -> bool {
        self.inner.subscribed().contains(&self.inner.channel(topic))
    }

    /// Whether the broker is connected to Redis now.
    pub fn is_connected(&self) -> bool {
        read(&self.inner.publisher).is_some()
    }
}

impl RedisBroker {
    /// Whether `node` is the one node this broker serves (a clone handed to a second
    /// dispatcher must not subscribe on the first one's connection).
    fn serves(&self, node: &str) -> bool {
        self.inner.node.get().is_some_and(|own| &**own == node)
    }
}

impl Inner {
    fn channel(&self, topic: &Topic) -> String {
        match topic {
            Topic::Node(node) => format!("{}:node:{node}", self.prefix),
            Topic::User(user) => format!("{}:user:{user}", self.prefix),
            Topic::Group(group) => format!("{}:group:{group}", self.prefix),
        }
    }

    fn subscribed(&self) -> MutexGuard<'_, HashSet<String>> {
        self.subscribed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn read(lock: &RwLock<Option<MultiplexedConnection>>) -> Option<MultiplexedConnection> {
    lock.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn write(lock: &RwLock<Option<MultiplexedConnection>>, value: Option<MultiplexedConnection>) {
    *lock.write().unwrap_or_else(|e| e.into_inner()) = value;
}

impl Broker for RedisBroker {
    fn attach(&self, inbox: Inbox) {
        let receiver = self
            .inner
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let (Some(receiver), Ok(runtime)) = (receiver, tokio::runtime::Handle::try_current())
        else {
            tracing::error!(
                "a RedisBroker serves one node and needs a Tokio runtime: deliveries to other nodes are disabled"
            );
            return;
        };
        let _ = self.inner.node.set(inbox.node_id().into());
        runtime.spawn(run(self.inner.clone(), inbox, receiver));
    }

    fn publish(&self, delivery: RemoteDelivery) -> PublishFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            let channel = inner.channel(&delivery.topic);
            let (text, seq_at, droppable) = delivery.frame.to_parts();
            let wire = Wire {
                origin: Cow::Borrowed(&delivery.origin),
                connections: delivery
                    .connections
                    .iter()
                    .map(|id| Cow::Borrowed(id.as_str()))
                    .collect(),
                text: Cow::Borrowed(text),
                seq_at,
                droppable,
            };
            let payload = serde_json::to_vec(&wire).expect("wire serialization is infallible");
            let Some(mut publisher) = read(&inner.publisher) else {
                inner.lost.fetch_add(1, Ordering::Relaxed);
                return Err(BrokerError::Unavailable("not connected to Redis".into()));
            };
            let receivers: redis::RedisResult<usize> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(payload)
                .query_async(&mut publisher)
                .await;
            match receivers {
                // This node's own subscription hears the publish too; it is not a delivery.
                Ok(n) => Ok(n.saturating_sub(usize::from(inner.subscribed().contains(&channel)))),
                Err(error) => {
                    inner.lost.fetch_add(1, Ordering::Relaxed);
                    Err(BrokerError::Unavailable(error.to_string()))
                }
            }
        })
    }

    fn subscribe(&self, node: &str, topic: Topic) {
        if !self.serves(node) {
            return;
        }
        let _ = self
            .inner
            .commands
            .send(Command::Subscribe(self.inner.channel(&topic)));
    }

    fn unsubscribe(&self, node: &str, topic: Topic) {
        if !self.serves(node) {
            return;
        }
        let _ = self
            .inner
            .commands
            .send(Command::Unsubscribe(self.inner.channel(&topic)));
    }
}

/// The connection task: connect, subscribe to everything the node needs, deliver what
/// arrives, apply subscription changes; on any failure start over after a backoff.
async fn run(inner: Arc<Inner>, inbox: Inbox, mut commands: mpsc::UnboundedReceiver<Command>) {
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
                deliver(inbox, &node, message.get_channel_name(), message.get_payload_bytes(), &inner.prefix);
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

fn deliver(inbox: &Inbox, node: &str, channel: &str, payload: &[u8], prefix: &str) {
    let Ok(wire) = serde_json::from_slice::<Wire<'_>>(payload) else {
        tracing::warn!(channel, "ignored a message that is not a beeflow delivery");
        return;
    };
    if wire.origin == node {
        // Our own publish on a channel we also listen to: delivered locally already.
        return;
    }
    let Some(topic) = topic_of(channel, prefix) else {
        return;
    };
    let Some(frame) = EventFrame::from_parts(&wire.text, wire.seq_at, wire.droppable) else {
        tracing::warn!(channel, "ignored a malformed beeflow delivery");
        return;
    };
    inbox.deliver(&RemoteDelivery {
        topic,
        connections: wire
            .connections
            .into_iter()
            .map(|id| ConnectionId::new(id.into_owned()))
            .collect(),
        frame: Arc::new(frame),
        origin: wire.origin.as_ref().into(),
    });
}

fn topic_of(channel: &str, prefix: &str) -> Option<Topic> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix(':')?;
    let (kind, id) = rest.split_once(':')?;
    match kind {
        "node" => Some(Topic::Node(id.into())),
        "user" => Some(Topic::User(id.into())),
        "group" => Some(Topic::Group(id.into())),
        _ => None,
    }
}

impl fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBroker")
            .field("prefix", &self.inner.prefix)
            .field("connected", &self.is_connected())
            .field("lost", &self.lost())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_to_topics() {
        let broker = RedisBroker::new("redis://127.0.0.1:1/").unwrap();
        for topic in [
            Topic::Node("abc".into()),
            Topic::User("ada:lovelace".into()),
            Topic::Group("room 1".into()),
        ] {
            let channel = broker.inner.channel(&topic);
            assert_eq!(topic_of(&channel, "beeflow"), Some(topic));
        }
        assert_eq!(topic_of("other:user:x", "beeflow"), None);
        assert_eq!(topic_of("beeflow:planet:x", "beeflow"), None);
    }

    #[test]
    fn the_wire_form_round_trips() {
        let frame = EventFrame::new(
            None,
            "e",
            &crate::recipient::Recipient::user("u\"1"),
            r#"{"a":"b\\"}"#,
            true,
        );
        let (text, seq_at, droppable) = frame.to_parts();
        let wire = Wire {
            origin: "n".into(),
            connections: vec!["n.1".into()],
            text: text.into(),
            seq_at,
            droppable,
        };
        let bytes = serde_json::to_vec(&wire).unwrap();
        let back: Wire<'_> = serde_json::from_slice(&bytes).unwrap();
        let rebuilt = EventFrame::from_parts(&back.text, back.seq_at, back.droppable).unwrap();
        assert_eq!(rebuilt, frame);
        assert_eq!(back.connections, ["n.1"]);
    }

    #[test]
    fn a_bad_url_is_an_error() {
        assert!(RedisBroker::new("not a url").is_err());
    }

    #[test]
    fn publishing_while_disconnected_is_reported_lost() {
        let broker = RedisBroker::new("redis://127.0.0.1:1/").unwrap();
        let frame = EventFrame::new(
            None,
            "e",
            &crate::recipient::Recipient::user("u"),
            "{}",
            false,
        );
        let delivery = RemoteDelivery {
            topic: Topic::User("u".into()),
            connections: Vec::new(),
            frame: Arc::new(frame),
            origin: "n".into(),
        };
        let outcome = futures_util::FutureExt::now_or_never(broker.publish(delivery)).unwrap();
        assert!(matches!(outcome, Err(BrokerError::Unavailable(_))));
        assert_eq!(broker.lost(), 1);
    }
}
