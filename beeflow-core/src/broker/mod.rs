//! The broker seam: how deliveries reach connections on other nodes.
//!
//! A node delivers to its own connections itself and hands the rest to its [`Broker`]:
//! a delivery for one connection goes to that connection's node (connection ids start with
//! their node's id), one for a user or a group goes to every node that has local members.
//! Each node subscribes only to what its connections need — its node topic, and the users
//! and groups it holds members of — so traffic scales with interest, not node count.
//!
//! [`MemoryBroker`] is the embedded default: in one process it connects any number of
//! dispatchers (useful for tests); alone, it costs nothing.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

pub use self::memory::MemoryBroker;
#[cfg(feature = "redis")]
pub use self::redis::RedisBroker;
#[doc(no_inline)]
pub use crate::envelope::EventFrame;
pub use crate::hub::Topic;
use crate::hub::{DeliveryReport, Hub, Target};
use crate::recipient::ConnectionId;

/// A delivery crossing nodes: the event, serialized once, and whom it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDelivery {
    /// Whom it is for.
    pub topic: Topic,
    /// For [`Topic::Node`]: the connections on that node. Empty otherwise.
    pub connections: Vec<ConnectionId>,
    /// The event as every receiving connection gets it, less `msg_id` and `seq`.
    pub frame: Arc<EventFrame>,
    /// The node that published it (which delivered to its own connections already).
    pub origin: Arc<str>,
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

/// Carries deliveries between nodes. Implementations: [`MemoryBroker`] (one process) and,
/// behind a cargo feature, networked brokers.
pub trait Broker: Send + Sync + 'static {
    /// Called once per node using this broker, before any other call for that node; the
    /// broker hands deliveries for the node to `inbox`.
    fn attach(&self, inbox: Inbox);

    /// Hands a delivery to the nodes subscribed to its topic, except its origin.
    fn publish(&self, delivery: RemoteDelivery) -> PublishFuture;

    /// `node` now has local members of `topic`.
    fn subscribe(&self, node: &str, topic: Topic);

    /// `node` no longer has local members of `topic`.
    fn unsubscribe(&self, node: &str, topic: Topic);
}

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

    /// Delivers to this node's own connections; counts nothing once the node is gone.
    pub fn deliver(&self, delivery: &RemoteDelivery) -> DeliveryReport {
        let Some(hub) = self.hub.upgrade() else {
            return DeliveryReport::default();
        };
        let target = match &delivery.topic {
            Topic::Node(_) => Target::Connections(&delivery.connections),
            Topic::User(user) => Target::User(user),
            Topic::Group(group) => Target::Group(group),
        };
        hub.deliver(target, &delivery.frame)
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
