//! The application's handle on a node: [`Dispatcher`], built by [`DispatcherBuilder`].
//!
//! The node's state and its delivery path live in `node/`; this is the public facade over
//! it: opening connections for transports, emitting events from outside a request, groups,
//! and what adapters read back (limits, the problem base).

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use crate::broker::{Broker, MemoryBroker};
use crate::connection::Connection;
use crate::context::Requirement;
use crate::event::{Emit, Event};
use crate::handshake::Admission;
use crate::hooks::{ConnectContext, DisconnectContext, Hooks, SubscriptionRequest};
use crate::hub::{DeliveryReport, NodeStats};
use crate::limits::Limits;
use crate::node::{Node, NodeParts, PayloadValidators, Phase, StateMap};
use crate::presence::Presence;
use crate::problem::{Problem, ProblemTypeBase};
use crate::rate::RateLimits;
use crate::recipient::{ConnectionId, Recipients};
use crate::registry::{Registry, RegistryError};

/// One node's dispatcher: the registry snapshot, configuration, application state and the
/// hub of live connections. Cheap to clone; every clone is the same node.
///
/// ```
/// use beeflow_core::Dispatcher;
///
/// # fn main() -> Result<(), beeflow_core::BuildError> {
/// let dispatcher = Dispatcher::builder()
///     .problem_type_base("https://example.com/problems/websocket")
///     .build()?;
/// # let _ = dispatcher;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dispatcher {
    node: Arc<Node>,
}

impl Dispatcher {
    /// The deadline the adapters' serve helpers and the examples give
    /// [`Dispatcher::shutdown`]: 30 s.
    pub const DEFAULT_SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

    /// Starts configuring a dispatcher.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder::default()
    }

    /// Opens a connection on `path` (the WebSocket request path, used as the `instance` of
    /// problems) for a client admitted without an HTTP handshake (an in-process client, a
    /// test); transports use [`transport::accept`](crate::transport::accept), which opens
    /// it too. Run it with [`transport::serve`](crate::transport::serve).
    ///
    /// # Errors
    ///
    /// `shutting_down` (503) once [`Dispatcher::shutdown`] began, `server_full` (503) or
    /// `too_many_connections` (429) when a connection limit is reached.
    pub fn open(&self, path: &str, admission: &Admission) -> Result<Connection, Problem> {
        let identity = admission.identity.clone();
        let (info, mailbox, queue) = self.node.connect(path, identity, admission.version())?;
        let info = self.node.admit(info)?;
        let mut connection = Connection::new(self.node.clone(), Arc::new(info), mailbox, queue);
        connection.set_encoding(admission.encoding());
        Ok(connection)
    }

    /// Who is in `group`, on every node: each connection that an action joined there or
    /// that subscribed to the group's exact topic, counted by user, and guests
    /// (`docs/protocol.md` §6.5).
    ///
    /// # Errors
    ///
    /// `presence_unavailable` (503) when the broker cannot be reached.
    pub async fn presence(&self, group: &str) -> Result<Presence, Problem> {
        self.node.presence(group).await
    }

    /// Shuts this node down gracefully, within `deadline`: admits no more connections
    /// (`shutting_down`, 503), lets each connection finish the request it is running, sends
    /// everything it was already owed, and closes it with 1001. Connections still open at
    /// the deadline are dropped. Resolves when no connection is left.
    ///
    /// Stop the HTTP server after this, so clients that reconnect find another node.
    pub async fn shutdown(&self, deadline: std::time::Duration) -> ShutdownReport {
        let open = self.node.hub.stats().connections;
        self.node.enter(Phase::Draining);
        let drained = tokio::time::timeout(deadline, self.node.emptied()).await;
        let dropped = match drained {
            Ok(()) => 0,
            Err(_) => {
                let dropped = self.node.hub.stats().connections;
                self.node.enter(Phase::Aborting);
                self.node.emptied().await;
                dropped
            }
        };
        ShutdownReport {
            closed: open.saturating_sub(dropped),
            dropped,
        }
    }

    /// Whether [`Dispatcher::shutdown`] began.
    pub fn is_shutting_down(&self) -> bool {
        self.node.phase() != Phase::Running
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Sends `event` to `to` (a [`Recipient`](crate::Recipient), or several as [`Recipients`], each
    /// connection reached once) from outside any request (an HTTP handler, a timer): the
    /// event carries no `req_id`. Inside a request,
    /// [`ActionContext::emit`](crate::ActionContext::emit) does the same.
    ///
    /// # Errors
    ///
    /// A Problem when the payload does not serialize, a recipient type is unknown, or its
    /// resolver fails; then nothing is delivered. A recipient nobody is connected as is not
    /// an error: the report says how many connections the event reached.
    pub async fn emit<E: Event>(
        &self,
        to: impl Into<Recipients>,
        event: &E,
    ) -> Result<DeliveryReport, Problem> {
        self.node.deliver(Emit::to(to, event)?, None, None).await
    }

    /// The node, as contexts see it.
    #[cfg(feature = "sync")]
    pub(crate) fn runtime(&self) -> Arc<dyn crate::context::Runtime> {
        self.node.clone()
    }

    /// Adds connection `id` (of this node) to `group`; a no-op if it is a member already.
    ///
    /// # Errors
    ///
    /// `connection_not_found` (404) when this node holds no connection `id`.
    pub fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.node.join(id, group)
    }

    /// Removes connection `id` (of this node) from `group`; a no-op if it is not a member.
    ///
    /// # Errors
    ///
    /// `connection_not_found` (404) when this node holds no connection `id`.
    pub fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem> {
        self.node.leave(id, group)
    }

    /// How many connections, users and groups this node tracks now.
    pub fn stats(&self) -> NodeStats {
        self.node.hub.stats()
    }

    /// This node's id; every connection id it issues starts with it.
    pub fn node_id(&self) -> &str {
        self.node.hub.node_id()
    }

    /// The registry snapshot this dispatcher serves.
    pub fn registry(&self) -> &Registry {
        &self.node.registry
    }

    /// The configured limits; adapters apply the socket limits from here.
    pub fn limits(&self) -> &Limits {
        &self.node.limits
    }

    /// The base URL of problem `type`s, set with [`DispatcherBuilder::problem_type_base`];
    /// adapters render their HTTP problems with it.
    pub fn problem_type_base(&self) -> &ProblemTypeBase {
        &self.node.problem_base
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("node_id", &self.node.hub.node_id())
            .field("registry", &self.node.registry)
            .field("problem_base", &self.node.problem_base)
            .field("limits", &self.node.limits)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Dispatcher`].
pub struct DispatcherBuilder {
    registry: Option<Registry>,
    validate_payloads: bool,
    hooks: Hooks,
    problem_base: ProblemTypeBase,
    limits: Limits,
    rate_limits: RateLimits,
    states: StateMap,
    broker: Option<Arc<dyn Broker>>,
}

impl Default for DispatcherBuilder {
    fn default() -> Self {
        Self {
            registry: None,
            validate_payloads: true,
            hooks: Hooks::default(),
            problem_base: ProblemTypeBase::default(),
            limits: Limits::default(),
            rate_limits: RateLimits::default(),
            states: StateMap::default(),
            broker: None,
        }
    }
}

impl DispatcherBuilder {
    /// Whether payloads are checked against the JSON Schema published for their action
    /// before the handler runs (default: on). A failure is `invalid_action_payload` (422)
    /// naming the path, so a `#[schemars(...)]` rule such as `length(max = 100)` is
    /// enforced where it is documented. Off, only decoding into the payload type checks it.
    #[must_use]
    pub fn validate_payloads(mut self, on: bool) -> Self {
        self.validate_payloads = on;
        self
    }

    /// Runs `hook` for every connection before it is admitted (before the 101): it may join
    /// groups ([`ConnectContext::join`]), store per-connection state for handlers
    /// ([`ConnectContext::insert`], read with [`ConnectionState<T>`](crate::ConnectionState)),
    /// or refuse the connection with a Problem, which the client gets as the HTTP response.
    /// A panic refuses it with `connect_hook_failed` (500).
    ///
    /// ```
    /// use beeflow_core::{ConnectContext, Dispatcher, Problem};
    ///
    /// #[derive(Clone)]
    /// struct Cursor(u32);
    ///
    /// let dispatcher = Dispatcher::builder()
    ///     .on_connect(|cx: &mut ConnectContext<'_>| {
    ///         if cx.user_id() == Some("banned") {
    ///             return Err(Problem::new(403, "banned", "banned", "Banned"));
    ///         }
    ///         cx.join("lobby");
    ///         cx.insert(Cursor(0));
    ///         Ok(())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = dispatcher;
    /// ```
    #[must_use]
    pub fn on_connect<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut ConnectContext<'_>) -> Result<(), Problem> + Send + Sync + 'static,
    {
        self.hooks.on_connect = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` once for every admitted connection when it ends, however it ends (the
    /// client closed, the server closed it, the socket broke, the node shut down), before it
    /// leaves its groups: the hook sees its identity, groups and per-connection state. A
    /// panic is logged.
    #[must_use]
    pub fn on_disconnect<F>(mut self, hook: F) -> Self
    where
        F: Fn(&DisconnectContext<'_>) + Send + Sync + 'static,
    {
        self.hooks.on_disconnect = Some(Arc::new(hook));
        self
    }

    /// Decides who may subscribe to what, and see whose presence (`docs/protocol.md` §6.3,
    /// §6.5): `hook` sees the connection (identity, per-connection state) and the topic, and
    /// returns whether to allow it. Without a hook every subscription is refused with
    /// `subscription_denied` (403), so nothing is readable by accident. A panic refuses.
    ///
    /// ```
    /// use beeflow_core::{Dispatcher, SubscriptionRequest};
    ///
    /// let dispatcher = Dispatcher::builder()
    ///     .authorize_subscriptions(|request: &SubscriptionRequest<'_>| {
    ///         // Anyone may follow public topics; a user, their own.
    ///         let topic = request.topic().as_str();
    ///         topic.starts_with("public.")
    ///             || request.user_id().is_some_and(|user| topic == format!("user.{user}"))
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = dispatcher;
    /// ```
    #[must_use]
    pub fn authorize_subscriptions<F>(mut self, hook: F) -> Self
    where
        F: Fn(&SubscriptionRequest<'_>) -> bool + Send + Sync + 'static,
    {
        self.hooks.authorize_subscription = Some(Arc::new(hook));
        self
    }

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
    pub fn problem_type_base(mut self, base_url: &str) -> Self {
        self.problem_base = ProblemTypeBase::new(Some(base_url));
        self
    }

    /// Sets the limits; [`DispatcherBuilder::build`] checks them.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the rate limits (default: [`RateLimits::default`]); [`RateLimits::off`] for load
    /// tests.
    #[must_use]
    pub fn rate_limits(mut self, rate_limits: RateLimits) -> Self {
        self.rate_limits = rate_limits;
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
    /// [`BuildError::Registry`] when the global registry has a duplicate name,
    /// [`BuildError::MissingState`] when a handler takes a state the builder was not given,
    /// [`BuildError::InvalidPayloadSchema`] when a payload schema does not compile, and
    /// [`BuildError::InvalidLimit`] for a limit out of its range.
    pub fn build(self) -> Result<Dispatcher, BuildError> {
        self.limits
            .validate()
            .map_err(|invalid| BuildError::InvalidLimit {
                limit: invalid.limit,
                reason: invalid.reason,
            })?;
        if let Some(limit) = self.rate_limits.invalid() {
            return Err(BuildError::InvalidLimit {
                limit,
                reason: "a rate must be more than zero per second, in bursts of at least 1",
            });
        }
        let registry = match self.registry {
            Some(registry) => registry,
            None => Registry::global()?,
        };
        missing_state(&registry, &self.states)?;
        let validators = if self.validate_payloads {
            PayloadValidators::compile(&registry).map_err(|error| {
                BuildError::InvalidPayloadSchema {
                    action: error.action,
                    reason: error.reason,
                }
            })?
        } else {
            PayloadValidators::off()
        };
        let broker = self.broker.unwrap_or_else(|| Arc::new(MemoryBroker::new()));
        let node = Node::start(NodeParts {
            registry,
            problem_base: self.problem_base,
            limits: self.limits,
            rate_limits: self.rate_limits,
            broker,
            states: self.states,
            validators,
            hooks: self.hooks,
        });
        Ok(Dispatcher { node })
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

/// The first `State<T>` a handler or resolver of `registry` takes that `states` lacks.
fn missing_state(registry: &Registry, states: &StateMap) -> Result<(), BuildError> {
    let actions = registry
        .actions()
        .map(|def| (format!("action `{}`", def.name), def.requirements));
    let resolvers = registry.resolvers().map(|def| {
        (
            format!("recipient resolver `{}`", def.name),
            def.requirements,
        )
    });
    for (handler, requirements) in actions.chain(resolvers) {
        for requirement in requirements() {
            if let Requirement::StateOf(state) = requirement
                && !states.contains_key(&state.id())
            {
                return Err(BuildError::MissingState {
                    handler,
                    state: state.name(),
                });
            }
        }
    }
    Ok(())
}

/// What [`Dispatcher::shutdown`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections closed with 1001 after their running request.
    pub closed: usize,
    /// Connections still open at the deadline, dropped.
    pub dropped: usize,
}

/// A dispatcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The registry has two definitions under one name.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A handler or resolver takes `State<T>` and the builder was given no state of type
    /// `T`.
    #[error(
        "{handler} takes `State<{state}>`, but the dispatcher has no state of that type: \
         add it with `DispatcherBuilder::state`"
    )]
    MissingState {
        /// The handler, e.g. ``action `task.add` ``.
        handler: String,
        /// The state's type name.
        state: &'static str,
    },
    /// An action's payload schema could not be compiled for validation.
    #[error("the payload schema of action `{action}` cannot be used for validation: {reason}")]
    InvalidPayloadSchema {
        /// The action's name.
        action: &'static str,
        /// What the validator said.
        reason: String,
    },
    /// A limit is out of its range.
    #[error("invalid limit `{limit}`: {reason}")]
    InvalidLimit {
        /// The limit's name, as its getter on [`Limits`] is called.
        limit: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}
