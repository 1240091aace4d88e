//! The node: one dispatcher's registry, configuration, application state, hub and broker,
//! shared by every connection, context and clone of the [`Dispatcher`](crate::Dispatcher).
//!
//! Its one delivery path, [`Node::deliver`], is in `delivery.rs`; the connections' side
//! (opening one, joining and leaving groups) is here, and so is the interest plumbing that
//! tells the broker which topics this node needs.

mod delivery;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::broker::{Broker, Inbox};
use crate::context::{ConnectionInfo, Runtime};
use crate::event::Emit;
use crate::hub::{DeliveryReport, Hub, NotLocal, Topic};
use crate::identity::ErasedIdentity;
use crate::limits::Limits;
use crate::outbound::{Mailbox, OutboundQueue};
use crate::problem::{Problem, ProblemTypeBase};
use crate::recipient::ConnectionId;
use crate::registry::Registry;

/// Application state, one value per type.
pub(crate) type StateMap = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// Everything connections, contexts and the dispatcher share.
pub(crate) struct Node {
    pub(crate) registry: Registry,
    pub(crate) problem_base: ProblemTypeBase,
    pub(crate) limits: Limits,
    pub(crate) hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
    states: StateMap,
}

impl Node {
    /// A node with a fresh hub, attached to `broker`.
    pub(crate) fn start(
        registry: Registry,
        problem_base: ProblemTypeBase,
        limits: Limits,
        broker: Arc<dyn Broker>,
        states: StateMap,
    ) -> Arc<Self> {
        let hub = Arc::new(Hub::new());
        broker.attach(Inbox::new(&hub));
        Arc::new(Self {
            registry,
            problem_base,
            limits,
            hub,
            broker,
            states,
        })
    }

    /// Registers a new connection with the hub.
    pub(crate) fn connect(
        &self,
        path: &str,
        identity: Option<ErasedIdentity>,
    ) -> (Arc<ConnectionInfo>, Arc<Mailbox>, OutboundQueue) {
        let user = identity.as_ref().map(|i| i.user_id.clone());
        let (id, mailbox, queue) =
            self.hub
                .connect((&self.limits).into(), user, &|topic, needed| {
                    self.interest(topic, needed);
                });
        let info = Arc::new(ConnectionInfo {
            id,
            identity,
            path: path.into(),
        });
        (info, mailbox, queue)
    }

    pub(crate) fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.hub
            .join(id, &group.into(), &|topic, needed| {
                self.interest(topic, needed);
            })
            .map_err(|NotLocal| Problem::connection_not_found(id.as_str()))
    }

    pub(crate) fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.hub
            .leave(id, group, &|topic, needed| self.interest(topic, needed))
            .map_err(|NotLocal| Problem::connection_not_found(id.as_str()))
    }

    pub(crate) fn disconnect(&self, id: &ConnectionId) {
        self.hub
            .disconnect(id, &|topic, needed| self.interest(topic, needed));
    }

    /// Tells the broker what this node started or stopped needing.
    fn interest(&self, topic: Topic, needed: bool) {
        let node = self.hub.node_id();
        if needed {
            self.broker.subscribe(node, topic);
        } else {
            self.broker.unsubscribe(node, topic);
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

    fn emit<'a>(
        self: Arc<Self>,
        emit: Emit,
        req_id: Option<Uuid>,
        requester: Option<&'a ConnectionId>,
    ) -> BoxFuture<'a, Result<DeliveryReport, Problem>> {
        Box::pin(async move { self.deliver(emit, req_id, requester).await })
    }
}
