//! The node: one dispatcher's registry, configuration, application state, hub and broker,
//! shared by every connection, context and clone of the [`Dispatcher`](crate::Dispatcher).
//!
//! Its one delivery path, [`Node::deliver`], is in `delivery.rs`; the connections' side
//! (opening one, joining and leaving groups) is here, and so is the interest plumbing that
//! tells the broker which topics this node needs.

mod delivery;
mod lifecycle;
mod recovery;
mod subscriptions;
mod validation;

pub(crate) use validation::PayloadValidators;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::broker::{Broker, Inbox, MembershipChange};
use crate::context::{ConnectionInfo, ConnectionStates, Runtime};
use crate::event::Emit;
use crate::hooks::Hooks;
use crate::hub::{Capacity, Change, DeliveryReport, Full, Hub, NotLocal, Topic};
use crate::identity::ErasedIdentity;
use crate::limits::Limits;
use crate::outbound::{Mailbox, OutboundQueue};
use crate::pattern::TopicPattern;
use crate::presence::Presence;
use crate::problem::{Problem, ProblemTypeBase};
use crate::rate::{NodeRates, RateLimits};
use crate::recipient::ConnectionId;
use crate::registry::Registry;
use crate::telemetry::Telemetry;
use crate::wait;

/// Application state, one value per type.
pub(crate) type StateMap = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// What a node is built from (the dispatcher builder's configuration).
pub(crate) struct NodeParts {
    pub(crate) registry: Registry,
    pub(crate) problem_base: ProblemTypeBase,
    pub(crate) limits: Limits,
    pub(crate) rate_limits: RateLimits,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) states: StateMap,
    pub(crate) validators: PayloadValidators,
    pub(crate) hooks: Hooks,
}

/// Everything connections, contexts and the dispatcher share.
pub(crate) struct Node {
    pub(crate) registry: Registry,
    pub(crate) problem_base: ProblemTypeBase,
    pub(crate) limits: Limits,
    pub(crate) hub: Arc<Hub>,
    pub(crate) rates: NodeRates,
    pub(crate) telemetry: Telemetry,
    /// Checks payloads against their published schemas.
    pub(crate) validators: PayloadValidators,
    hooks: Hooks,
    pub(crate) broker: Arc<dyn Broker>,
    states: StateMap,
    /// Where a shutdown is: see [`Phase`].
    phase: AtomicU8,
    /// Wakes connections when the phase changes, and the shutdown when a connection leaves.
    changed: Notify,
    left: Notify,
    /// Connections that left so far; every [`FORGET_EVERY`]th one prunes the rate buckets.
    departures: AtomicU64,
    #[cfg(feature = "sync")]
    sync_store: crate::sync_store::SyncStore,
}

/// How many departures between two prunings of the rate limiters' idle buckets: often
/// enough to bound their memory, rarely enough that the pass costs nothing per connection.
const FORGET_EVERY: u64 = 1024;

/// Where a node is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Admitting and serving.
    Running = 0,
    /// Admitting nobody; each connection closes with 1001 once its running request is done.
    Draining = 1,
    /// Past the shutdown's deadline: the connections still open are dropped.
    Aborting = 2,
}

impl Node {
    /// A node with a fresh hub, attached to its broker.
    pub(crate) fn start(parts: NodeParts) -> Arc<Self> {
        let NodeParts {
            registry,
            problem_base,
            limits,
            rate_limits,
            broker,
            states,
            validators,
            hooks,
        } = parts;
        let hub = Arc::new(Hub::new());
        broker.attach(Inbox::new(&hub));
        let telemetry = Telemetry::new(
            registry.actions().map(|def| def.name),
            registry.events().map(|def| def.name),
        );
        Arc::new(Self {
            telemetry,
            registry,
            problem_base,
            limits,
            hub,
            rates: NodeRates::new(rate_limits),
            validators,
            hooks,
            broker,
            states,
            phase: AtomicU8::new(Phase::Running as u8),
            changed: Notify::new(),
            left: Notify::new(),
            departures: AtomicU64::new(0),
            #[cfg(feature = "sync")]
            sync_store: crate::sync_store::SyncStore::default(),
        })
    }

    /// Registers a new connection with the hub, unless the node is shutting down or full.
    pub(crate) fn connect(
        &self,
        path: &str,
        identity: Option<ErasedIdentity>,
        version: u8,
    ) -> Result<(ConnectionInfo, Arc<Mailbox>, OutboundQueue), Problem> {
        if self.phase() != Phase::Running {
            return Err(Problem::shutting_down());
        }
        let user = identity.as_ref().map(|i| i.user_id.clone());
        let capacity = Capacity {
            per_node: self.limits.max_connections(),
            per_user: self.limits.max_connections_per_user(),
        };
        let connected =
            self.hub
                .connect((&self.limits).into(), user, version, capacity, &|change| {
                    self.changed(change);
                });
        let (id, mailbox, queue) = connected.map_err(|full| match full {
            Full::Node => Problem::server_full(),
            Full::User => Problem::too_many_connections(capacity.per_user.unwrap_or_default()),
        })?;
        self.telemetry.connection_opened();
        let info = ConnectionInfo {
            id,
            identity,
            path: path.into(),
            states: ConnectionStates::default(),
            version,
        };
        Ok((info, mailbox, queue))
    }

    /// Hands an action POSTed here to the node holding its SSE session, through the
    /// broker.
    pub(crate) async fn forward_action(
        &self,
        key: &crate::hub::SessionKey,
        user: Option<&str>,
        action: String,
    ) -> Result<(), Problem> {
        let Some(node) = Hub::node_of(&key.connection) else {
            return Err(Problem::session_not_found());
        };
        let forwarded =
            crate::broker::ForwardedAction::new(key.render(), user.map(str::to_owned), action);
        match self.broker.forward(node, forwarded).await {
            Ok(0) => Err(Problem::session_not_found()),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, node, "an SSE action could not be forwarded");
                Err(Problem::broker_unavailable())
            }
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Draining,
            _ => Phase::Aborting,
        }
    }

    /// Moves the node to `phase` (never back) and tells every connection.
    pub(crate) fn enter(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Resolves once the node is at least in `phase`.
    pub(crate) async fn reached(&self, phase: Phase) {
        wait::until(&self.changed, || (self.phase() >= phase).then_some(())).await;
    }

    /// Resolves once this node holds no connection.
    pub(crate) async fn emptied(&self) {
        wait::until(&self.left, || {
            (self.hub.stats().connections == 0).then_some(())
        })
        .await;
    }

    pub(crate) fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.hub
            .join(id, &group.into(), &|change| self.changed(change))
            .map_err(|NotLocal| Problem::connection_not_found(id.as_str()))
    }

    pub(crate) fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.hub
            .leave(id, group, &|change| self.changed(change))
            .map_err(|NotLocal| Problem::connection_not_found(id.as_str()))
    }

    pub(crate) fn disconnect(&self, id: &ConnectionId) {
        self.hub.disconnect(id, &|change| self.changed(change));
        self.telemetry.connection_closed();
        self.left.notify_waiters();
        if self.departures.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.rates.forget_idle();
        }
    }

    /// Tells the broker what this node started or stopped needing, and which groups its
    /// connections entered and left.
    pub(crate) fn changed(&self, change: Change) {
        let node = self.hub.node_id();
        match change {
            Change::Interest(topic, true) => self.broker.subscribe(node, topic),
            Change::Interest(topic, false) => self.broker.unsubscribe(node, topic),
            Change::Membership {
                group,
                user,
                entered,
            } => self.broker.membership(
                node,
                MembershipChange {
                    group,
                    user,
                    entered,
                },
            ),
        }
    }
}

impl Runtime for Node {
    fn state(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
        self.states.get(&type_id).map(|state| &**state)
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        Node::join(self, id, group)
    }

    fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        Node::leave(self, id, group)
    }

    fn subscribe(
        &self,
        connection: &ConnectionInfo,
        topic: &TopicPattern,
        presence: bool,
    ) -> Result<bool, Problem> {
        Node::subscribe(self, connection, topic, presence)
    }

    fn unsubscribe(&self, id: &ConnectionId, topic: &str) -> Result<(), Problem> {
        Node::unsubscribe(self, id, topic)
    }

    fn authorize(
        &self,
        connection: &ConnectionInfo,
        topic: &TopicPattern,
        presence: bool,
    ) -> Result<(), Problem> {
        Node::authorize(self, connection, topic, presence)
    }

    fn presence(self: Arc<Self>, group: String) -> BoxFuture<'static, Result<Presence, Problem>> {
        Box::pin(async move { Node::presence(&self, &group).await })
    }

    fn recover(
        self: Arc<Self>,
        connection: Arc<ConnectionInfo>,
        stream: Topic,
        since: (String, u64),
        join: Box<dyn FnOnce() -> Result<(), Problem> + Send>,
    ) -> BoxFuture<'static, Result<bool, Problem>> {
        Box::pin(async move { Node::recover(&self, &connection, stream, since, join).await })
    }

    #[cfg(feature = "sync")]
    fn sync_store(&self) -> &crate::sync_store::SyncStore {
        &self.sync_store
    }

    #[cfg(feature = "sync")]
    fn reaches(
        self: Arc<Self>,
        recipient: crate::recipient::Recipient,
        connection: Arc<ConnectionInfo>,
    ) -> BoxFuture<'static, Result<bool, Problem>> {
        Box::pin(async move { self.reaches_connection(&recipient, &connection).await })
    }

    fn emit<'a>(
        self: Arc<Self>,
        emit: Emit,
        req_id: Option<Uuid>,
        requester: Option<&'a ConnectionId>,
    ) -> BoxFuture<'a, Result<DeliveryReport, Problem>> {
        Box::pin(async move { self.deliver(emit, req_id, requester).await })
    }
}
