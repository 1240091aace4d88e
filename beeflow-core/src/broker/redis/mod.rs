//! A broker on Redis pub/sub (cargo feature `redis`).
//!
//! Each node subscribes to its own node channel and to one channel per user and group it
//! has local members of; publishing a delivery is one `PUBLISH`, bounded in time. When
//! Redis goes away (or freezes) the node keeps serving its own connections, reports what it
//! could not publish in time as lost (and a late copy is dropped where it arrives),
//! reconnects with exponential backoff and jitter, and resubscribes everything its
//! connections need. Delivery across nodes is at most once (see `docs/scaling.md`).
//!
//! Patterns are subscribed with `PSUBSCRIBE` on a glob of their literal tokens, so a node
//! hears of the groups its patterns may match, not of every group. Presence is counted in
//! Redis by Lua scripts, with per-node heartbeats and a reaper for nodes that die.
//!
//! `broker_impl.rs` is what the dispatcher asks of the broker; `connection.rs` one server
//! or a cluster behind one face; `wire.rs` the message and the channel names; `task.rs`
//! the connection task; `inbound.rs` what arrives; `direct.rs` deliveries to connections;
//! `publisher.rs`, `batcher.rs`, `runs.rs` and `streams.rs` stream deliveries and history;
//! `sharded.rs` how a cluster splits them; `presence.rs` the presence scripts.

mod batcher;
mod broker_impl;
mod connection;
mod direct;
mod inbound;
mod presence;
mod publisher;
mod runs;
mod sharded;
mod streams;
mod task;
mod wire;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use self::connection::{Client, Connection};
use super::{BrokerError, Inbox, MembershipChange, Topic};
use crate::hub::DeliveryReport;
use crate::presence::Presence;

/// How long a publish may take by default.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(200);

/// A [`Broker`](super::Broker) on Redis pub/sub. One per node:
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
    /// Stream deliveries for the batcher (`publisher.rs`).
    jobs: mpsc::Sender<publisher::Job>,
}

pub(super) struct Inner {
    client: Client,
    names: wire::Names,
    /// The publishing connection while Redis is reachable.
    publisher: RwLock<Option<Connection>>,
    /// Subscription and membership changes for the connection task, in the order the hub
    /// made them.
    commands: mpsc::UnboundedSender<Command>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
    /// The batcher's end of the stream delivery queue, until `attach` starts it.
    jobs: Mutex<Option<mpsc::Receiver<publisher::Job>>>,
    /// Topics this node is subscribed to now (its own publishes come back on them).
    subscribed: Mutex<HashSet<Topic>>,
    /// Whether the task takes changes now. While Redis is away it does not: nothing queues
    /// up during an outage, since the task reads the node's whole state when it reconnects
    /// (after turning this on, so no change falls between).
    accepting: AtomicBool,
    node: OnceLock<Arc<str>>,
    /// The node's inbox, for deliveries to its own connections.
    inbox: OnceLock<Inbox>,
    /// Stream deliveries this node published and waits to hear back (on its node channel),
    /// which is when it delivers them to its own connections, in Redis's order.
    echoes: Mutex<HashMap<Uuid, oneshot::Sender<DeliveryReport>>>,
    /// How long a publish may take, in nanoseconds.
    publish_timeout: AtomicU64,
    lost: AtomicU64,
    /// Deliveries that arrived after their publisher had given up on them, and were dropped.
    expired: AtomicU64,
    /// Stream events this node saw it missed (a gap in offsets), and streams it saw
    /// restart under a new epoch.
    missed: AtomicU64,
    new_epochs: AtomicU64,
    reconnects: AtomicU64,
}

pub(super) enum Command {
    Subscribe(Topic),
    Unsubscribe(Topic),
    Membership(MembershipChange),
    /// Who is in a group: asked through the task, so every change made before is counted.
    Presence(Arc<str>, oneshot::Sender<Result<Presence, BrokerError>>),
    /// Where the presence counts the task put back after a reconnect end: membership changes
    /// queued before it are in them already.
    Mark,
    /// Answered once every command queued before it took effect.
    Barrier(oneshot::Sender<()>),
}

/// How long a presence query waits for Redis.
const PRESENCE_TIMEOUT: Duration = Duration::from_secs(2);

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
        let client = Client::single(url)
            .map_err(|e| BrokerError::Unavailable(format!("invalid Redis URL: {e}")))?;
        Ok(Self::build(client, prefix))
    }

    /// A broker for a Redis Cluster, given some of its nodes (e.g.
    /// `["redis://10.0.0.1:6379/", "redis://10.0.0.2:6379/"]`), in sharded mode: each
    /// user's, group's and node's channel is a sharded channel (`SPUBLISH`, `SSUBSCRIBE`) and
    /// a stream's history lives in its channel's slot, so the cluster spreads them over its
    /// shards. Presence lives on one shard. Group events are also published on a classic
    /// channel for pattern subscriptions, which sharded pub/sub does not have (see
    /// `docs/scaling.md` for what that costs and what differs from one server).
    ///
    /// # Errors
    ///
    /// [`BrokerError::Unavailable`] when a node is not a Redis URL, or none is given.
    pub fn cluster<I, S>(nodes: I) -> Result<Self, BrokerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::cluster_with_prefix(nodes, "beeflow")
    }

    /// Like [`RedisBroker::cluster`], with channels and keys under `prefix`.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Unavailable`] when a node is not a Redis URL, none is given, or
    /// `prefix` holds `{` or `}` (the hash tags the keys are grouped by).
    pub fn cluster_with_prefix<I, S>(nodes: I, prefix: &str) -> Result<Self, BrokerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if prefix.contains(['{', '}']) {
            return Err(BrokerError::Unavailable(format!(
                "a cluster prefix cannot hold {{ or }}: {prefix:?}"
            )));
        }
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(BrokerError::Unavailable(
                "a Redis Cluster needs at least one node".into(),
            ));
        }
        let client = Client::cluster(nodes)
            .map_err(|e| BrokerError::Unavailable(format!("invalid Redis Cluster node: {e}")))?;
        Ok(Self::build(client, prefix))
    }

    fn build(client: Client, prefix: &str) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (jobs, job_receiver) = mpsc::channel(publisher::QUEUE);
        let names = wire::Names::new(prefix, client.is_cluster());
        Self {
            jobs,
            inner: Arc::new(Inner {
                jobs: Mutex::new(Some(job_receiver)),
                client,
                names,
                publisher: RwLock::new(None),
                commands,
                receiver: Mutex::new(Some(receiver)),
                subscribed: Mutex::default(),
                accepting: AtomicBool::new(false),
                node: OnceLock::new(),
                inbox: OnceLock::new(),
                echoes: Mutex::default(),
                publish_timeout: AtomicU64::new(nanos(PUBLISH_TIMEOUT)),
                lost: AtomicU64::new(0),
                expired: AtomicU64::new(0),
                missed: AtomicU64::new(0),
                new_epochs: AtomicU64::new(0),
                reconnects: AtomicU64::new(0),
            }),
        }
    }

    /// Bounds each publish to `timeout` (default: 200 ms): an emit to other nodes never
    /// waits on Redis longer than this. A publish that takes longer is reported lost, and a
    /// copy that reaches another node after that is dropped there, so a delivery reported
    /// lost never arrives late (given node clocks within a few milliseconds of each other,
    /// as NTP keeps them).
    #[must_use]
    pub fn with_publish_timeout(self, timeout: Duration) -> Self {
        self.inner
            .publish_timeout
            .store(nanos(timeout), Ordering::Relaxed);
        self
    }

    fn publish_timeout(&self) -> Duration {
        Duration::from_nanos(self.inner.publish_timeout.load(Ordering::Relaxed))
    }

    /// Deliveries for other nodes that could not be published (Redis unreachable, or slower
    /// than the publish timeout).
    pub fn lost(&self) -> u64 {
        self.inner.lost.load(Ordering::Relaxed)
    }

    /// Deliveries from other nodes that arrived here after their publisher had reported them
    /// lost, and were dropped.
    pub fn expired(&self) -> u64 {
        self.inner.expired.load(Ordering::Relaxed)
    }

    /// Stream events that never reached this node: gaps in the offsets it received (its
    /// subscription was down while other nodes published). Its clients see the same gaps
    /// and recover what history still holds; each gap is also logged.
    pub fn missed(&self) -> u64 {
        self.inner.missed.load(Ordering::Relaxed)
    }

    /// Times a stream this node receives restarted under a new epoch (its history was lost,
    /// e.g. Redis restarted empty); logged too.
    pub fn new_epochs(&self) -> u64 {
        self.inner.new_epochs.load(Ordering::Relaxed)
    }

    /// How many times the connection to Redis was (re)established.
    pub fn connections_made(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// Whether this node is subscribed to `topic` now: a delivery published before the
    /// subscription is in place does not reach this node (pub/sub keeps no history).
    pub fn is_subscribed(&self, topic: &Topic) -> bool {
        self.inner.subscribed().contains(topic)
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

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    fn channel(&self, topic: &Topic) -> String {
        self.names.channel(topic)
    }

    fn presences(&self) -> presence::Presences<'_> {
        presence::Presences::new(self.names.presence_prefix(), self.names.sharded())
    }

    fn subscribed(&self) -> MutexGuard<'_, HashSet<Topic>> {
        self.subscribed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn echoes(&self) -> MutexGuard<'_, HashMap<Uuid, oneshot::Sender<DeliveryReport>>> {
        self.echoes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `command` to the task, unless it takes none now.
    fn send(&self, command: Command) -> bool {
        self.accepting.load(Ordering::Acquire) && self.commands.send(command).is_ok()
    }
}

fn read(lock: &RwLock<Option<Connection>>) -> Option<Connection> {
    lock.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn write(lock: &RwLock<Option<Connection>>, value: Option<Connection>) {
    *lock.write().unwrap_or_else(|e| e.into_inner()) = value;
}

impl fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBroker")
            .field("prefix", &self.inner.names.prefix())
            .field("cluster", &self.inner.names.sharded())
            .field("connected", &self.is_connected())
            .field("lost", &self.lost())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Broker, RemoteDelivery};
    use crate::envelope::EventFrame;

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
        let delivery = RemoteDelivery::single(
            Topic::User("u".into()),
            Vec::new(),
            Arc::new(frame),
            "n".into(),
        );
        let outcome = futures_util::FutureExt::now_or_never(broker.publish(delivery)).unwrap();
        assert!(matches!(outcome, Err(BrokerError::Unavailable(_))));
        assert_eq!(broker.lost(), 1);
    }
}
