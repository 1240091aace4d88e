//! The dispatcher: one server's registry, configuration, state and hub.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use uuid::Uuid;

use crate::context::{ConnectionInfo, ResolveContext};
use crate::event::{Emit, Event};
use crate::hub::{DeliveryReport, EventFrame, Hub};
use crate::limits::Limits;
use crate::problem::{Problem, ProblemTypeBase};
use crate::recipient::{ConnectionId, Recipient, WEBSOCKET};
use crate::registry::{Registry, RegistryError};
use crate::session::Session;

type StateMap = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// Everything sessions, contexts and pushes share.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) problem_base: ProblemTypeBase,
    pub(crate) limits: Limits,
    pub(crate) hub: Hub,
    states: StateMap,
}

impl Shared {
    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.states.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The one delivery path: resolve the recipient, serialize the event once, queue it for
    /// every resolved local connection.
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        emit: Emit,
        req_id: Option<Uuid>,
        requester: Option<&ConnectionId>,
    ) -> Result<DeliveryReport, Problem> {
        let (recipient, ids) = match (emit.recipient, requester) {
            (Some(recipient), _) => {
                let ids = self.resolve(&recipient).await?;
                (recipient, ids)
            }
            (None, Some(requester)) => (Recipient::connection(requester), vec![requester.clone()]),
            (None, None) => {
                return Err(Problem::new(
                    500,
                    "reply_outside_request",
                    "reply-outside-request",
                    "Event has no recipient",
                )
                .with_detail(format!(
                    "Event '{}' was addressed to the requester, but it was pushed from outside a request.",
                    emit.event
                )));
            }
        };
        let frame = Arc::new(EventFrame::new(
            req_id,
            emit.event,
            &recipient,
            &emit.payload,
        ));
        Ok(self.hub.deliver(&ids, &frame))
    }

    async fn resolve(
        self: &Arc<Self>,
        recipient: &Recipient,
    ) -> Result<Vec<ConnectionId>, Problem> {
        // The built-in direct recipient needs no lookup and no future.
        if recipient.kind() == WEBSOCKET {
            return Ok(vec![ConnectionId::new(recipient.id())]);
        }
        let def = self
            .registry
            .recipient(recipient.kind())
            .ok_or_else(|| Problem::unknown_recipient(recipient.kind()))?;
        let cx = ResolveContext {
            shared: self.clone(),
        };
        let resolving = std::panic::catch_unwind(AssertUnwindSafe(|| {
            (def.resolve)(cx, recipient.id().to_owned())
        }));
        let outcome = match resolving {
            Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
            Err(panic) => Err(panic),
        };
        outcome.unwrap_or_else(|panic| {
            tracing::error!(
                recipient = recipient.kind(),
                panic = crate::session::panic_message(&*panic),
                "recipient resolver panicked"
            );
            Err(Problem::new(
                500,
                "recipient_resolution_failed",
                "recipient-resolution-failed",
                "Recipient resolution failed",
            )
            .with_detail(format!(
                "The resolver of recipient type '{}' failed.",
                recipient.kind()
            )))
        })
    }
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
    pub fn open_session(&self, path: &str) -> (Session, crate::Outbound) {
        self.open(path, None)
    }

    /// Opens a session for a connection authenticated as `identity` (any application type;
    /// handlers get it back with [`Identity<T>`](crate::Identity)).
    pub fn open_session_as<I: Send + Sync + 'static>(
        &self,
        path: &str,
        identity: I,
    ) -> (Session, crate::Outbound) {
        self.open(path, Some(Arc::new(identity)))
    }

    /// Opens a session for a connection a [`HandshakePolicy`](crate::handshake::HandshakePolicy)
    /// admitted, with the identity its authenticator produced.
    pub fn open_admitted(
        &self,
        path: &str,
        admission: &crate::handshake::Admission,
    ) -> (Session, crate::Outbound) {
        self.open(path, admission.identity.clone())
    }

    fn open(
        &self,
        path: &str,
        identity: Option<crate::context::AnyIdentity>,
    ) -> (Session, crate::Outbound) {
        let (id, mailbox, outbound) = self.shared.hub.connect(self.shared.limits.outbound_queue);
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
        self.shared.hub.len()
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
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
        Ok(Dispatcher {
            shared: Arc::new(Shared {
                registry,
                problem_base: self.problem_base,
                limits: self.limits,
                hub: Hub::new(),
                states: self.states,
            }),
        })
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
