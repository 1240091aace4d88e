//! What handlers and resolvers can reach: the connection, the identity, application state,
//! and a way to emit events.

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use crate::dispatch::Shared;
use crate::event::{Emit, Event};
use crate::hub::DeliveryReport;
use crate::identity::ErasedIdentity;
use crate::problem::Problem;
use crate::recipient::{ConnectionId, Recipient};

pub(crate) struct ConnectionInfo {
    pub(crate) id: ConnectionId,
    pub(crate) identity: Option<ErasedIdentity>,
    pub(crate) path: Box<str>,
}

/// The context of one action invocation.
///
/// Handlers take it as an argument (or extract parts of it with [`State`] and [`Identity`]).
#[derive(Clone)]
pub struct ActionContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) connection: Arc<ConnectionInfo>,
    pub(crate) req_id: Uuid,
}

impl ActionContext {
    /// The id of the connection that sent the request.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.connection.id
    }

    /// The `req_id` of the request being handled.
    pub fn req_id(&self) -> Uuid {
        self.req_id
    }

    /// The WebSocket request path the connection was opened on.
    pub fn path(&self) -> &str {
        &self.connection.path
    }

    /// The connection's authenticated identity, if it has one of type `T`.
    pub fn identity<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.connection.identity.as_ref()?.value.downcast_ref()
    }

    /// Application state of type `T`, if the server was configured with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.shared.state::<T>()
    }

    /// Adds the requesting connection to `group` (until it leaves or disconnects).
    pub fn join(&self, group: &str) {
        // The requesting connection is local and alive while its request runs.
        let _ = self.shared.join(&self.connection.id, group);
    }

    /// Removes the requesting connection from `group`.
    pub fn leave(&self, group: &str) {
        let _ = self.shared.leave(&self.connection.id, group);
    }

    /// The user id of the connection's identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.connection.identity.as_ref().map(|i| &*i.user_id)
    }

    /// Delivers `event` to `recipient` now, before the handler returns, tagged with this
    /// request's `req_id`.
    ///
    /// # Errors
    ///
    /// A Problem when the payload does not serialize, the recipient type is unknown, or its
    /// resolver fails.
    pub async fn emit<E: Event>(
        &self,
        recipient: Recipient,
        event: &E,
    ) -> Result<DeliveryReport, Problem> {
        self.emit_prepared(Emit::to(recipient, event)?).await
    }

    /// Delivers an already prepared [`Emit`] now (to the requester when it has no recipient).
    ///
    /// # Errors
    ///
    /// As [`ActionContext::emit`].
    pub async fn emit_prepared(&self, emit: Emit) -> Result<DeliveryReport, Problem> {
        self.shared
            .deliver(emit, Some(self.req_id), Some(&self.connection.id))
            .await
    }
}

impl fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionContext")
            .field("connection_id", &self.connection.id)
            .field("req_id", &self.req_id)
            .field("path", &self.connection.path)
            .finish_non_exhaustive()
    }
}

/// The context of a recipient resolution: application state, but no connection (events can
/// be addressed from outside any request).
#[derive(Clone)]
pub struct ResolveContext {
    pub(crate) shared: Arc<Shared>,
}

impl ResolveContext {
    /// Application state of type `T`, if the server was configured with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.shared.state::<T>()
    }
}

impl fmt::Debug for ResolveContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolveContext").finish_non_exhaustive()
    }
}

/// Extracts a handler or resolver argument from its context `C` ([`ActionContext`] or
/// [`ResolveContext`]), like an axum extractor.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `#[action]`/`#[recipient]` argument here",
    note = "after the payload (or recipient id), arguments must be `ActionContext`, `ResolveContext`, `State<T>`, `Identity<T>` or `Option<Identity<T>>`"
)]
pub trait FromContext<C>: Sized {
    /// Performs the extraction.
    ///
    /// # Errors
    ///
    /// A Problem when the context lacks what the argument needs.
    fn from_context(cx: &C) -> Result<Self, Problem>;
}

impl FromContext<ActionContext> for ActionContext {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        Ok(cx.clone())
    }
}

impl FromContext<ResolveContext> for ResolveContext {
    fn from_context(cx: &ResolveContext) -> Result<Self, Problem> {
        Ok(cx.clone())
    }
}

/// Application state of type `T`, cloned out of the server's state (configure it with
/// [`DispatcherBuilder::state`](crate::DispatcherBuilder::state)).
///
/// A missing state type is a server misconfiguration: the client gets a 500 Problem that
/// names the type.
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for State<T> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        state_or_problem(cx.state::<T>())
    }
}

impl<T: Clone + Send + Sync + 'static> FromContext<ResolveContext> for State<T> {
    fn from_context(cx: &ResolveContext) -> Result<Self, Problem> {
        state_or_problem(cx.state::<T>())
    }
}

fn state_or_problem<T: Clone>(state: Option<&T>) -> Result<State<T>, Problem> {
    state
        .cloned()
        .map(State)
        .ok_or_else(|| Problem::missing_state("application state", type_name::<T>()))
}

/// The authenticated identity of the requesting connection, as the application's type `T`.
///
/// A connection without an identity of type `T` (a guest) gets a 401 Problem; take
/// `Option<Identity<T>>` to serve guests too.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for Identity<T> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        cx.identity::<T>().cloned().map(Identity).ok_or_else(|| {
            Problem::new(
                401,
                "unauthenticated",
                "unauthenticated",
                "Authentication required",
            )
            .with_detail("This action needs an authenticated connection.")
        })
    }
}

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for Option<Identity<T>> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        Ok(cx.identity::<T>().cloned().map(Identity))
    }
}

impl FromContext<ActionContext> for ConnectionId {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        Ok(cx.connection.id.clone())
    }
}
