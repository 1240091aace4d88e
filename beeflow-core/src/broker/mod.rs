//! The broker seam: how deliveries reach connections on other nodes.
//!
//! A node delivers to its own connections itself and hands the rest to its [`Broker`]:
//! a delivery for one connection goes to that connection's node (connection ids start with
//! their node's id), one for a user or a group goes to every node that has local members.
//! Each node subscribes only to what its connections need — its node topic, the users and
//! groups it holds members of, the patterns its connections subscribed to, and the groups
//! whose presence they watch — so traffic scales with interest, not node count.
//!
//! A broker also keeps every node's presence counts: each node tells it when a connection
//! enters or leaves a group ([`Broker::membership`]), and it answers who is in a group
//! ([`Broker::presence`]) and hands `beeflow.join` / `beeflow.leave` notices to the nodes
//! that watch ([`Inbox::presence_notice`]).
//!
//! [`MemoryBroker`] is the embedded default: in one process it connects any number of
//! dispatchers (useful for tests); alone, it costs nothing.

mod history;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use uuid::Uuid;

pub use self::memory::MemoryBroker;
#[cfg(feature = "redis")]
pub use self::redis::RedisBroker;
#[doc(no_inline)]
pub use crate::envelope::{EventFrame, FrameParts, Position};
pub use crate::hub::Topic;
use crate::hub::{DeliveryReport, Hub, Target};
use crate::limits::HistoryLimits;
pub use crate::presence::PresenceCounts;
use crate::presence::{Presence, PresenceNotice, notice_event};
use crate::recipient::{ConnectionId, Recipient};

/// A delivery crossing nodes: the event, serialized once per recipient, and whom it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDelivery {
    /// Identifies the delivery: one published on several topics reaches a node subscribed
    /// to more than one of them several times, and is delivered once.
    pub id: Uuid,
    /// Whom it is for, in the order of the emit's recipients: a connection that several
    /// parts reach gets the frame of the first.
    pub parts: Vec<RemotePart>,
    /// A connection left out wherever it is reached from.
    pub except: Option<ConnectionId>,
    /// The node that published it (which delivered to its own connections already).
    pub origin: Arc<str>,
}

/// A part of an emit that a piece published on its own comes after: whom it is for (the
/// connections of a node topic).
pub(crate) type EarlierPart = (Topic, Vec<ConnectionId>);

/// One recipient of a [`RemoteDelivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePart {
    /// Whom it is for.
    pub topic: Topic,
    /// For [`Topic::Node`]: the connections on that node. Empty otherwise.
    pub connections: Vec<ConnectionId>,
    /// The event as every connection it reaches gets it, less `msg_id` and `seq`.
    pub frame: Arc<EventFrame>,
}

impl RemoteDelivery {
    /// A delivery of `frame` to one topic.
    pub fn single(
        topic: Topic,
        connections: Vec<ConnectionId>,
        frame: Arc<EventFrame>,
        origin: Arc<str>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            parts: vec![RemotePart {
                topic,
                connections,
                frame,
            }],
            except: None,
            origin,
        }
    }

    /// The topics to publish it on: each part's, once, in order.
    pub fn topics(&self) -> Vec<&Topic> {
        let mut topics: Vec<&Topic> = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            if !topics.contains(&&part.topic) {
                topics.push(&part.topic);
            }
        }
        topics
    }
}

/// A broker could not take a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The broker is not reachable now.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

/// The future of [`Broker::publish`]: how many nodes took the delivery, when known.
pub type PublishFuture = Pin<Box<dyn Future<Output = Result<usize, BrokerError>> + Send>>;

/// What [`Broker::publish_streams`] did: the report of this node's own connections, and
/// how many other nodes took the delivery (or why it could not reach them).
#[derive(Debug)]
#[non_exhaustive]
pub struct StreamsReport {
    /// This node's connections (the broker hands the delivery to this node's inbox too).
    pub local: DeliveryReport,
    /// How many other nodes took it.
    pub published: Result<usize, BrokerError>,
}

impl StreamsReport {
    /// A report of `local` and `published`.
    pub fn new(local: DeliveryReport, published: Result<usize, BrokerError>) -> Self {
        Self { local, published }
    }
}

/// The future of [`Broker::publish_streams`].
pub type StreamsFuture = Pin<Box<dyn Future<Output = StreamsReport> + Send>>;

/// A stream's history after a position ([`Broker::history`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HistoryRead {
    /// The stream's epoch now.
    pub epoch: Arc<str>,
    /// Its last offset.
    pub top: u64,
    /// Every event after the asked position, oldest first; `None` when the history no
    /// longer holds them all, or when there are more than the asked limit.
    pub events: Option<Vec<Arc<EventFrame>>>,
}

/// The future of [`Broker::history`]: `None` for a stream with no history.
pub type HistoryFuture =
    Pin<Box<dyn Future<Output = Result<Option<HistoryRead>, BrokerError>> + Send>>;

/// The future of [`Broker::presence`].
pub type PresenceFuture = Pin<Box<dyn Future<Output = Result<Presence, BrokerError>> + Send>>;

/// A connection became a member of a group, or stopped being one
/// ([`Broker::membership`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MembershipChange {
    /// The group.
    pub group: Arc<str>,
    /// The connection's user; `None` for a guest.
    pub user: Option<Arc<str>>,
    /// Whether it entered (else it left).
    pub entered: bool,
}

/// An action POSTed for an SSE session held by another node (`docs/protocol.md` §7), on
/// its way there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ForwardedAction {
    /// The session's key, as the stream announced it.
    pub session: String,
    /// The user who POSTed it (`None` for a guest): the session's own, or it is dropped.
    pub user: Option<String>,
    /// The action envelope's text.
    pub action: String,
}

impl ForwardedAction {
    /// An action for `session`, POSTed by `user`.
    pub fn new(session: String, user: Option<String>, action: String) -> Self {
        Self {
            session,
            user,
            action,
        }
    }
}

/// Carries deliveries between nodes. Implementations: [`MemoryBroker`] (one process) and,
/// behind a cargo feature, networked brokers.
pub trait Broker: Send + Sync + 'static {
    /// Called once per node using this broker, before any other call for that node; the
    /// broker hands deliveries for the node to `inbox`.
    fn attach(&self, inbox: Inbox);

    /// Hands a delivery to the nodes subscribed to its topic, except its origin. Its parts
    /// are all [`Topic::Node`]: deliveries to users and groups go to
    /// [`Broker::publish_streams`].
    fn publish(&self, delivery: RemoteDelivery) -> PublishFuture;

    /// Hands on a delivery with a user or group part (a stream, `docs/protocol.md` §6.4):
    /// gives each such part the next position of its stream
    /// ([`EventFrame::positioned`]), keeps it in the stream's
    /// history within `history`, and delivers the delivery to every node that needs it,
    /// **the origin included** (through its [`Inbox`]), each stream's events in position
    /// order on every node.
    ///
    /// With `await_local` (an emit inside a request, whose completion must come after its
    /// events) the future resolves once this node's connections have the delivery queued;
    /// without, a networked broker may resolve as soon as the delivery is on its way, with an
    /// empty local report and `published: Ok(1)`, and deliver to this node's connections
    /// when it can.
    fn publish_streams(
        &self,
        delivery: RemoteDelivery,
        history: HistoryLimits,
        await_local: bool,
    ) -> StreamsFuture;

    /// The events of `stream` after offset `after`, if the history (kept within `history`)
    /// holds them all and there are at most `limit`.
    fn history(
        &self,
        stream: &Topic,
        after: u64,
        limit: usize,
        history: HistoryLimits,
    ) -> HistoryFuture;

    /// `node` now has local members of `topic`.
    fn subscribe(&self, node: &str, topic: Topic);

    /// `node` no longer has local members of `topic`.
    fn unsubscribe(&self, node: &str, topic: Topic);

    /// A connection on `node` entered or left a group. Called in the order the node's
    /// memberships changed, while the node holds its index lock: an implementation must not
    /// call back into that node's [`Inbox`] from here except for
    /// [`Inbox::presence_notice`].
    ///
    /// When it makes a user's first connection a member of the group anywhere, or removes
    /// its last, the broker hands the notice to every node subscribed to
    /// [`Topic::Presence`] of the group (this one included).
    fn membership(&self, node: &str, change: MembershipChange);

    /// Who is in `group`, on every node. A change this node made before asking is counted.
    fn presence(&self, group: &str) -> PresenceFuture;

    /// Resolves once deliveries for `topic` reach `node` (its [`Broker::subscribe`] took
    /// effect): `true`, or `false` if that did not happen in time. A recovery waits for it
    /// before it reads the history, so that no event falls between the history and the live
    /// feed. A broker that subscribes synchronously keeps this default.
    fn subscribed(&self, node: &str, topic: &Topic) -> SubscribedFuture {
        let _ = (node, topic);
        Box::pin(std::future::ready(true))
    }

    /// Hands `action` to `node`'s [`Inbox::forward_action`]; resolves to how many nodes took
    /// it (0: no such node). A broker that cannot carry actions keeps this default, which
    /// says so: SSE actions then work only on the node that holds the stream.
    fn forward(&self, node: &str, action: ForwardedAction) -> PublishFuture {
        let _ = (node, action);
        Box::pin(std::future::ready(Err(BrokerError::Unavailable(
            "this broker does not carry SSE actions between nodes".to_owned(),
        ))))
    }
}

/// The future of [`Broker::subscribed`].
pub type SubscribedFuture = Pin<Box<dyn Future<Output = bool> + Send>>;

/// One node's receiving end, given to its broker by [`Broker::attach`].
///
/// It holds the node's hub weakly: a broker outliving its node delivers nowhere.
#[derive(Clone)]
pub struct Inbox {
    node_id: Arc<str>,
    hub: Weak<Hub>,
}

impl Inbox {
    pub(crate) fn new(hub: &Arc<Hub>) -> Self {
        Self {
            node_id: hub.node_id().clone(),
            hub: Arc::downgrade(hub),
        }
    }

    /// The node this inbox belongs to.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Delivers to this node's own connections; counts nothing once the node is gone, or
    /// when this node already received the delivery on another of its topics.
    pub fn deliver(&self, delivery: &RemoteDelivery) -> DeliveryReport {
        let Some(hub) = self.hub.upgrade() else {
            return DeliveryReport::default();
        };
        // A delivery published on several topics, or on a group that a node hears of
        // through more than one pattern, may arrive more than once.
        if !hub.first_sight(delivery.id) {
            return DeliveryReport::default();
        }
        self.deliver_to(&hub, delivery)
    }

    /// Hands an action POSTed on another node to this node's SSE session; dropped (and
    /// logged) when the session is gone, busy, or another user's.
    pub fn forward_action(&self, action: ForwardedAction) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let Some(key) = crate::hub::SessionKey::parse(&action.session) else {
            tracing::warn!("dropped a forwarded SSE action with a malformed session");
            return;
        };
        if let Err(refused) = hub
            .sessions
            .forward(&key, action.user.as_deref(), action.action)
        {
            tracing::warn!(
                connection = key.connection.as_str(),
                ?refused,
                "dropped a forwarded SSE action"
            );
        }
    }

    /// Like [`Inbox::deliver`], for a broker that hands each node each delivery exactly
    /// once (as [`MemoryBroker`] does): no window of recent deliveries is kept or checked.
    pub fn deliver_once(&self, delivery: &RemoteDelivery) -> DeliveryReport {
        match self.hub.upgrade() {
            Some(hub) => self.deliver_to(&hub, delivery),
            None => DeliveryReport::default(),
        }
    }

    fn deliver_to(&self, hub: &Hub, delivery: &RemoteDelivery) -> DeliveryReport {
        self.deliver_after_to(hub, delivery, &[])
    }

    /// Like [`Inbox::deliver`], for one piece of an emit published in pieces (a Redis
    /// Cluster publishes each stream part on its own shard): the connections that the
    /// `earlier` parts reach are left out, as the piece with those parts reached them.
    #[cfg(feature = "redis")]
    pub(crate) fn deliver_after(
        &self,
        delivery: &RemoteDelivery,
        earlier: &[EarlierPart],
    ) -> DeliveryReport {
        let Some(hub) = self.hub.upgrade() else {
            return DeliveryReport::default();
        };
        if !hub.first_sight(delivery.id) {
            return DeliveryReport::default();
        }
        self.deliver_after_to(&hub, delivery, earlier)
    }

    fn deliver_after_to(
        &self,
        hub: &Hub,
        delivery: &RemoteDelivery,
        earlier: &[EarlierPart],
    ) -> DeliveryReport {
        // The common case, one topic and nobody left out, needs no list of parts.
        if let ([part], None, []) = (delivery.parts.as_slice(), &delivery.except, earlier) {
            return match self.target(&part.topic, &part.connections) {
                Some(target) => hub.deliver(target, &part.frame),
                None => DeliveryReport::default(),
            };
        }
        let earlier: Vec<Target<'_>> = earlier
            .iter()
            .filter_map(|(topic, connections)| self.target(topic, connections))
            .collect();
        let parts: Vec<(Target<'_>, &Arc<EventFrame>)> = delivery
            .parts
            .iter()
            .filter_map(|part| Some((self.target(&part.topic, &part.connections)?, &part.frame)))
            .collect();
        hub.deliver_parts(&earlier, &parts, delivery.except.as_ref())
    }

    /// Whom `part` is for on this node; `None` for connections of another node, named in
    /// the same delivery.
    fn target<'a>(&self, topic: &'a Topic, connections: &'a [ConnectionId]) -> Option<Target<'a>> {
        Some(match topic {
            Topic::Node(node) if *node == self.node_id => Target::Connections(connections),
            Topic::Node(_) => return None,
            Topic::User(user) => Target::User(user),
            Topic::Group(group) => Target::Group(group),
            // Subscriptions only: nothing is published to a pattern or a presence topic.
            Topic::Pattern(_) | Topic::Presence(_) => return None,
        })
    }

    /// Whether some connection of this node is one `delivery` is for (a broker that hands a
    /// node its own deliveries back can skip those that reach nobody here).
    pub fn reaches(&self, delivery: &RemoteDelivery) -> bool {
        let Some(hub) = self.hub.upgrade() else {
            return false;
        };
        delivery
            .parts
            .iter()
            .filter_map(|part| self.target(&part.topic, &part.connections))
            .any(|target| hub.reaches(target))
    }

    /// Delivers a presence notice (`beeflow.join` when `joined`, else `beeflow.leave`) for
    /// `user` in `group` to this node's connections that watch the group's presence.
    pub fn presence_notice(&self, group: &str, user: &str, joined: bool) -> DeliveryReport {
        let Some(hub) = self.hub.upgrade() else {
            return DeliveryReport::default();
        };
        let notice = PresenceNotice {
            topic: group.to_owned(),
            user: user.to_owned(),
        };
        let payload = serde_json::to_string(&notice).expect("a notice serializes");
        let frame = EventFrame::new(
            None,
            notice_event(joined),
            &Recipient::group(group.to_owned()),
            &payload,
            false,
        );
        hub.deliver(Target::Presence(group), &Arc::new(frame))
    }

    /// Everything this node needs now: its node topic, and its users' and groups' topics
    /// (for a broker resubscribing after a reconnect).
    pub fn topics(&self) -> Vec<Topic> {
        let mut topics = vec![Topic::Node(self.node_id.clone())];
        if let Some(hub) = self.hub.upgrade() {
            topics.extend(hub.topics());
        }
        topics
    }

    /// Every group's members on this node, counted by user (for a broker that lost its
    /// store and puts them back). `mark` runs at the point the counts stand for: every
    /// [`Broker::membership`] call before it is included, none after it.
    pub fn presence(&self, mark: impl FnOnce()) -> Vec<(Arc<str>, PresenceCounts)> {
        match self.hub.upgrade() {
            Some(hub) => hub.presence(mark),
            None => {
                mark();
                Vec::new()
            }
        }
    }

    /// Whether the node still runs.
    pub fn is_alive(&self) -> bool {
        self.hub.strong_count() > 0
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}
