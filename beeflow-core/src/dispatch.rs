//! The dispatcher: one server's registry, configuration, state and hub.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::broker::{Broker, Inbox, MemoryBroker, Topic};
use crate::context::ConnectionInfo;
use crate::event::{Emit, Event};
use crate::hub::{DeliveryReport, Hub, HubStats, NotLocal};
use crate::identity::{ErasedIdentity, Principal};
use crate::limits::Limits;
use crate::outbound::Outbound;
use crate::problem::{Problem, ProblemTypeBase};
use crate::recipient::{ConnectionId, Recipient};
use crate::registry::{Registry, RegistryError};
use crate::session::Session;

type StateMap = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// Everything sessions, contexts and pushes share.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) problem_base: ProblemTypeBase,
    pub(crate) limits: Limits,
    pub(crate) hub: Hub,
    pub(crate) broker: Arc<dyn Broker>,
    states: StateMap,
}

impl Shared {
    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.states.get(&TypeId::of::<T>())?.downcast_ref()
    }

    pub(crate) fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.hub
            .join(id, &group.into(), &|topic, needed| {
                self.interest(topic, needed);
            })
            .map_err(|NotLocal| not_local(id))
    }

    pub(crate) fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.hub
            .leave(id, group, &|topic, needed| self.interest(topic, needed))
            .map_err(|NotLocal| not_local(id))
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

fn not_local(id: &ConnectionId) -> Problem {
    Problem::new(
        404,
        "connection_not_found",
        "connection-not-found",
        "Connection not found",
    )
    .with_detail(format!("This node holds no connection '{id}'."))
}

/// One server's dispatcher: the registry snapshot, configuration, application state and the
/// hub of live connections. Cheap to clone; every clone is the same server.
///
/// ```
/// use beeflow_core::Dispatcher;
///
/// # fn main() -> Result<(), beeflow_core::RegistryError> {
/// let dispatcher = Dispatcher::builder()
///     .problem_type_base_url("https://example.com/problems/websocket")
///     .build()?;
/// # let _ = dispatcher;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dispatcher {
    pub(crate) shared: Arc<Shared>,
}

impl Dispatcher {
    /// Starts configuring a dispatcher.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder::default()
    }

    /// Opens a session for a new connection on `path` (the WebSocket request path, used as
    /// the `instance` of problems), without an identity.
    pub fn open_session(&self, path: &str) -> (Session, Outbound) {
        self.open(path, None)
    }

    /// Opens a session for a connection authenticated as `identity` (the application's own
    /// type; handlers get it back with [`Identity<T>`](crate::Identity), and
    /// [`Recipient::user`] reaches it).
    pub fn open_session_as<I: Principal>(&self, path: &str, identity: I) -> (Session, Outbound) {
        self.open(path, Some(ErasedIdentity::new(identity)))
    }

    /// Opens a session for a connection a [`HandshakePolicy`](crate::handshake::HandshakePolicy)
    /// admitted, with the identity its authenticator produced.
    pub fn open_admitted(
        &self,
        path: &str,
        admission: &crate::handshake::Admission,
    ) -> (Session, Outbound) {
        self.open(path, admission.identity.clone())
    }

    fn open(&self, path: &str, identity: Option<ErasedIdentity>) -> (Session, Outbound) {
        let user = identity.as_ref().map(|i| i.user_id.clone());
        let shared = &self.shared;
        let (id, mailbox, outbound) =
            shared
                .hub
                .connect(shared.limits.queue_bounds(), user, &|topic, needed| {
                    shared.interest(topic, needed);
                });
        let connection = Arc::new(ConnectionInfo {
            id,
            identity,
            path: path.into(),
        });
        let session = Session::new(self.shared.clone(), connection, mailbox);
        (session, outbound)
    }

    /// Sends `event` to `recipient` from outside any request (an HTTP handler, a timer): the
    /// event carries no `req_id`.
    ///
    /// # Errors
    ///
    /// A Problem when the payload does not serialize, the recipient type is unknown, or its
    /// resolver fails. A recipient nobody is connected as is not an error: the report says
    /// how many connections the event reached.
    pub async fn push<E: Event>(
        &self,
        recipient: Recipient,
        event: &E,
    ) -> Result<DeliveryReport, Problem> {
        self.shared
            .deliver(Emit::to(recipient, event)?, None, None)
            .await
    }

    /// The registry snapshot this dispatcher serves.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// The configured limits; adapters apply the socket limits from here.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The configured problem type base URL.
    pub fn problem_type_base(&self) -> &ProblemTypeBase {
        &self.shared.problem_base
    }

    /// How many connections this node holds now.
    pub fn connection_count(&self) -> usize {
        self.shared.hub.stats().connections
    }

    /// How many connections, users and groups this node tracks now.
    pub fn stats(&self) -> HubStats {
        self.shared.hub.stats()
    }

    /// This node's id; every connection id it issues starts with it.
    pub fn node_id(&self) -> &str {
        self.shared.hub.node_id()
    }

    /// Adds connection `id` (of this node) to `group`; a no-op if it is a member already.
    ///
    /// # Errors
    ///
    /// A 404 Problem when this node holds no connection `id`.
    pub fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.shared.join(id, group)
    }

    /// Removes connection `id` (of this node) from `group`; a no-op if it is not a member.
    ///
    /// # Errors
    ///
    /// A 404 Problem when this node holds no connection `id`.
    pub fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.shared.leave(id, group)
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("node_id", &self.shared.hub.node_id())
            .field("registry", &self.shared.registry)
            .field("problem_base", &self.shared.problem_base)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Dispatcher`].
#[derive(Default)]
pub struct DispatcherBuilder {
    registry: Option<Registry>,
    problem_base: ProblemTypeBase,
    limits: Limits,
    states: StateMap,
    broker: Option<Arc<dyn Broker>>,
}

impl DispatcherBuilder {
    /// Serves this registry instead of [`Registry::global`].
    #[must_use]
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Adds application state; handlers reach it with [`State<T>`](crate::State). One value
    /// per type: adding a second value of a type replaces the first.
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(mut self, state: T) -> Self {
        self.states.insert(TypeId::of::<T>(), Box::new(state));
        self
    }

    /// Sets the base URL of problem `type`s (unset or blank: `about:blank`).
    #[must_use]
    pub fn problem_type_base_url(mut self, base: &str) -> Self {
        self.problem_base = ProblemTypeBase::new(Some(base));
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Connects this node to others through `broker` (default: a [`MemoryBroker`] of its
    /// own, i.e. a single node).
    #[must_use]
    pub fn broker(mut self, broker: impl Broker) -> Self {
        self.broker = Some(Arc::new(broker));
        self
    }

    /// Builds the dispatcher, collecting the global registry unless one was given.
    ///
    /// # Errors
    ///
    /// A [`RegistryError`] when the global registry has a duplicate name.
    pub fn build(self) -> Result<Dispatcher, RegistryError> {
        let registry = match self.registry {
            Some(registry) => registry,
            None => Registry::global()?,
        };
        let broker = self.broker.unwrap_or_else(|| Arc::new(MemoryBroker::new()));
        let shared = Arc::new(Shared {
            registry,
            problem_base: self.problem_base,
            limits: self.limits,
            hub: Hub::new(),
            broker,
            states: self.states,
        });
        let inbox = Inbox::new(shared.hub.node_id().clone(), Arc::downgrade(&shared));
        shared.broker.attach(inbox);
        Ok(Dispatcher { shared })
    }
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("problem_base", &self.problem_base)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
