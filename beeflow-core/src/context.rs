//! What handlers and resolvers can reach: the connection, the identity, application state,
//! and a way to emit events.
//!
//! A context reaches the node it runs on through the small [`Runtime`] trait, not through the
//! node's type: the node sits above the registry, which stores handlers taking these
//! contexts, so naming it here would make the module graph a loop.

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::event::{Emit, Event};
use crate::hub::{DeliveryReport, Hub, Topic};
use crate::identity::{ErasedIdentity, Identity};
use crate::pattern::TopicPattern;
use crate::presence::Presence;
use crate::problem::Problem;
use crate::recipient::{ConnectionId, Recipients};
use crate::type_key::TypeKey;

/// What a context needs of the node it runs on.
pub(crate) trait Runtime: Send + Sync + 'static {
    /// The application state of this type, if the dispatcher was built with one.
    fn state(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)>;

    /// This node's connections and their groups.
    fn hub(&self) -> &Hub;

    /// Adds a local connection to a group.
    fn join(&self, id: &ConnectionId, group: &str) -> Result<(), Problem>;

    /// Removes a local connection from a group.
    fn leave(&self, id: &ConnectionId, group: &str) -> Result<(), Problem>;

    /// Subscribes a local connection to a topic, if the application's hook allows it; true
    /// when the subscription is new.
    fn subscribe(
        &self,
        connection: &ConnectionInfo,
        topic: &TopicPattern,
        presence: bool,
    ) -> Result<bool, Problem>;

    /// Ends a local connection's subscription.
    fn unsubscribe(&self, id: &ConnectionId, topic: &str) -> Result<(), Problem>;

    /// Whether the application's hook lets a connection subscribe to (or see the presence
    /// of) a topic.
    fn authorize(
        &self,
        connection: &ConnectionInfo,
        topic: &TopicPattern,
        presence: bool,
    ) -> Result<(), Problem>;

    /// Who is in a group, on every node.
    fn presence(self: Arc<Self>, group: String) -> BoxFuture<'static, Result<Presence, Problem>>;

    /// Replays to a connection what it missed of a stream since `since` (epoch, offset),
    /// before any newer event of it; `join` (run once its live events are held back) makes
    /// it receive the stream if it does not yet. Resolves to whether it recovered.
    fn recover(
        self: Arc<Self>,
        connection: Arc<ConnectionInfo>,
        stream: Topic,
        since: (String, u64),
        join: Box<dyn FnOnce() -> Result<(), Problem> + Send>,
    ) -> BoxFuture<'static, Result<bool, Problem>>;

    /// Every synced state of this node, by key.
    #[cfg(feature = "sync")]
    fn sync_store(&self) -> &crate::sync_store::SyncStore;

    /// Whether an event to `recipient` reaches connection `connection` of this node.
    #[cfg(feature = "sync")]
    fn reaches(
        self: Arc<Self>,
        recipient: crate::recipient::Recipient,
        connection: Arc<ConnectionInfo>,
    ) -> BoxFuture<'static, Result<bool, Problem>>;

    /// Delivers `emit` now, tagged with `req_id` (addressed to `requester` when it names no
    /// recipient).
    fn emit<'a>(
        self: Arc<Self>,
        emit: Emit,
        req_id: Option<Uuid>,
        requester: Option<&'a ConnectionId>,
    ) -> BoxFuture<'a, Result<DeliveryReport, Problem>>;
}

/// What every request of one connection shares.
pub(crate) struct ConnectionInfo {
    pub(crate) id: ConnectionId,
    pub(crate) identity: Option<ErasedIdentity>,
    pub(crate) path: Box<str>,
    /// What the connect hook stored for this connection, one value per type.
    pub(crate) states: ConnectionStates,
    /// The protocol version it speaks (`docs/protocol.md` §6.1).
    pub(crate) version: u8,
}

impl ConnectionInfo {
    /// The user id of the connection's identity; `None` for a guest.
    pub(crate) fn user_id(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| &*i.user_id)
    }

    /// The connection's identity, if it has one of type `T`.
    pub(crate) fn identity<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.identity.as_ref()?.value.downcast_ref()
    }

    /// The connection's own state of type `T`, if the connect hook stored one.
    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.states.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

/// Application state of type `T` from `runtime`, if the dispatcher was built with it.
pub(crate) fn app_state<T: Send + Sync + 'static>(runtime: &dyn Runtime) -> Option<&T> {
    runtime.state(TypeId::of::<T>())?.downcast_ref()
}

/// Per-connection state, one value per type: set by the connect hook, read by
/// [`ConnectionState<T>`] and the disconnect hook.
pub(crate) type ConnectionStates = std::collections::HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// The context of one action invocation.
///
/// Handlers take it as an argument (or extract parts of it with [`State`] and [`Identity`]).
#[derive(Clone)]
pub struct ActionContext {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) connection: Arc<ConnectionInfo>,
    pub(crate) req_id: Uuid,
    /// On a version-2 connection: what the request's completion frame reports.
    pub(crate) completion: Option<Arc<Completion>>,
}

/// What a version-2 request's completion frame reports beside the events it returned
/// (`docs/protocol.md` §6.2): the events it sent with `emit`, and whether a recovery
/// succeeded (built-in actions).
#[derive(Debug, Default)]
pub(crate) struct Completion {
    pub(crate) emitted: std::sync::atomic::AtomicUsize,
    /// 0: no recovery; 1: not recovered; 2: recovered.
    recovered: std::sync::atomic::AtomicU8,
}

impl Completion {
    pub(crate) fn set_recovered(&self, recovered: bool) {
        let value = if recovered { 2 } else { 1 };
        self.recovered
            .store(value, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn recovered(&self) -> Option<bool> {
        match self.recovered.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            value => Some(value == 2),
        }
    }
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
        self.connection.identity()
    }

    /// The user id of the connection's identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.connection.user_id()
    }

    /// Application state of type `T`, if the dispatcher was built with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        app_state(&*self.runtime)
    }

    /// The requesting connection's own state of type `T`, if the connect hook stored one
    /// ([`ConnectContext::insert`](crate::ConnectContext::insert)).
    pub fn connection_state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.connection.state()
    }

    /// Adds the requesting connection to `group` (until it leaves or disconnects).
    pub fn join(&self, group: &str) {
        // The requesting connection is local and alive while its request runs.
        let _ = self.runtime.join(&self.connection.id, group);
    }

    /// Removes the requesting connection from `group`.
    pub fn leave(&self, group: &str) {
        let _ = self.runtime.leave(&self.connection.id, group);
    }

    /// The groups the requesting connection is a member of, in the order it joined them.
    pub fn groups(&self) -> Vec<String> {
        let groups = self.runtime.hub().groups_of(&self.connection.id);
        groups.iter().map(|group| group.to_string()).collect()
    }

    /// Sends `event` to `to` (a [`Recipient`](crate::Recipient), or several as
    /// [`Recipients`](crate::Recipients), each connection reached once) now, before the
    /// handler returns, tagged with this request's `req_id`. Outside a request,
    /// [`Dispatcher::emit`](crate::Dispatcher::emit) does the same.
    ///
    /// # Errors
    ///
    /// A Problem when the payload does not serialize, a recipient type is unknown, or its
    /// resolver fails; then nothing is delivered.
    pub async fn emit<E: Event>(
        &self,
        to: impl Into<Recipients>,
        event: &E,
    ) -> Result<DeliveryReport, Problem> {
        let emit = Emit::to(to, event)?;
        let report = (self.runtime.clone())
            .emit(emit, Some(self.req_id), Some(&self.connection.id))
            .await?;
        if let Some(completion) = &self.completion {
            completion
                .emitted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(report)
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
    pub(crate) runtime: Arc<dyn Runtime>,
}

impl ResolveContext {
    /// Application state of type `T`, if the dispatcher was built with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        app_state(&*self.runtime)
    }
}

impl fmt::Debug for ResolveContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolveContext").finish_non_exhaustive()
    }
}

/// Extracts a handler or resolver argument from its context `C` ([`ActionContext`] or
/// [`ResolveContext`]), the way an axum extractor reads a request.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `#[action]`/`#[recipient]` argument here",
    note = "after the payload (or recipient id), arguments must be `ActionContext`, `ResolveContext`, `State<T>`, `Identity<T>`, `Option<Identity<T>>`, `ConnectionId` or `ConnectionState<T>`"
)]
pub trait FromContext<C>: Sized {
    /// Performs the extraction.
    ///
    /// # Errors
    ///
    /// A Problem when the context lacks what the argument needs.
    fn from_context(cx: &C) -> Result<Self, Problem>;

    /// What the argument needs the dispatcher to provide, so a wiring mistake is reported
    /// when the dispatcher is built (or the endpoint mounted) instead of on every request.
    /// `None` (the default) for arguments every context can give.
    fn requirement() -> Option<Requirement> {
        None
    }
}

/// Something a handler or resolver argument needs from the dispatcher:
/// [`FromContext::requirement`] names it, and the registrations collect them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// Application state of this type ([`State<T>`]), checked by
    /// [`DispatcherBuilder::build`](crate::DispatcherBuilder::build).
    StateOf(TypeKey),
    /// A connection identity of this type ([`Identity<T>`], `Option<Identity<T>>`), checked
    /// against the handshake policy when an adapter mounts the endpoint.
    IdentityOf(TypeKey),
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

/// Application state of type `T`, cloned out of the dispatcher's state (configure it with
/// [`DispatcherBuilder::state`](crate::DispatcherBuilder::state)).
///
/// [`DispatcherBuilder::build`](crate::DispatcherBuilder::build) checks that every
/// `State<T>` a handler or resolver takes was given, so a missing one is a start-up error
/// (`BuildError::MissingState`), not a failure of every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for State<T> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        state_or_problem(cx.state::<T>())
    }

    fn requirement() -> Option<Requirement> {
        Some(Requirement::StateOf(TypeKey::of::<T>()))
    }
}

impl<T: Clone + Send + Sync + 'static> FromContext<ResolveContext> for State<T> {
    fn from_context(cx: &ResolveContext) -> Result<Self, Problem> {
        state_or_problem(cx.state::<T>())
    }

    fn requirement() -> Option<Requirement> {
        Some(Requirement::StateOf(TypeKey::of::<T>()))
    }
}

fn state_or_problem<T: Clone>(state: Option<&T>) -> Result<State<T>, Problem> {
    state
        .cloned()
        .map(State)
        .ok_or_else(|| Problem::missing_state(type_name::<T>()))
}

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for Identity<T> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        match identity_of::<T>(cx) {
            Ok(Some(identity)) => Ok(Identity(identity)),
            Ok(None) => Err(Problem::unauthenticated()
                .with_detail("This action needs an authenticated connection.")),
            Err(mismatch) => Err(mismatch),
        }
    }

    fn requirement() -> Option<Requirement> {
        Some(Requirement::IdentityOf(TypeKey::of::<T>()))
    }
}

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for Option<Identity<T>> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        Ok(identity_of::<T>(cx)?.map(Identity))
    }

    fn requirement() -> Option<Requirement> {
        Some(Requirement::IdentityOf(TypeKey::of::<T>()))
    }
}

/// The connection's identity as `T`: `None` for a guest, and `identity_mismatch` (500,
/// logged) when it has an identity of another type, which is a wiring mistake, not a client
/// that failed to authenticate.
fn identity_of<T: Clone + 'static>(cx: &ActionContext) -> Result<Option<T>, Problem> {
    let Some(identity) = &cx.connection.identity else {
        return Ok(None);
    };
    if let Some(value) = identity.value.downcast_ref::<T>() {
        return Ok(Some(value.clone()));
    }
    let (wanted, actual) = (type_name::<T>(), identity.type_key.name());
    tracing::error!(
        wanted,
        actual,
        "a handler takes `Identity<{wanted}>`, but the handshake policy authenticates \
         connections as `{actual}`"
    );
    Err(Problem::identity_mismatch())
}

/// The requesting connection's own state of type `T`, cloned: what the connect hook stored
/// with [`ConnectContext::insert`](crate::ConnectContext::insert) (a shopping cart, a
/// cursor, a handle to per-connection data; put it behind an `Arc<Mutex<_>>` to change it
/// from handlers).
///
/// A connection without one gets a 500 `missing_connection_state` Problem that names the
/// type: the connect hook and the handler disagree.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionState<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext<ActionContext> for ConnectionState<T> {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        cx.connection_state::<T>()
            .cloned()
            .map(ConnectionState)
            .ok_or_else(|| Problem::missing_connection_state(type_name::<T>()))
    }
}

impl FromContext<ActionContext> for ConnectionId {
    fn from_context(cx: &ActionContext) -> Result<Self, Problem> {
        Ok(cx.connection.id.clone())
    }
}
