//! Hooks: what the application runs when a connection opens and when it closes
//! ([`DispatcherBuilder::on_connect`](crate::DispatcherBuilder::on_connect) and
//! [`DispatcherBuilder::on_disconnect`](crate::DispatcherBuilder::on_disconnect)), and who may
//! subscribe to what
//! ([`DispatcherBuilder::authorize_subscriptions`](crate::DispatcherBuilder::authorize_subscriptions)).
//!
//! Both are plain functions, run synchronously where the connection opens and closes, so
//! they cannot be skipped or reordered: the connect hook runs before the connection is
//! admitted (before the 101), the disconnect hook exactly once when it ends, however it
//! ends. Work that must wait (a database) belongs in the handshake policy, which is async
//! and returns the identity, or in an action.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use crate::context::{ConnectionInfo, Runtime, app_state};
use crate::pattern::TopicPattern;
use crate::problem::Problem;
use crate::recipient::ConnectionId;

/// The connect hook, as the builder stores it.
pub(crate) type OnConnect =
    Arc<dyn Fn(&mut ConnectContext<'_>) -> Result<(), Problem> + Send + Sync>;

/// The disconnect hook, as the builder stores it.
pub(crate) type OnDisconnect = Arc<dyn Fn(&DisconnectContext<'_>) + Send + Sync>;

/// The subscription hook, as the builder stores it.
pub(crate) type AuthorizeSubscription = Arc<dyn Fn(&SubscriptionRequest<'_>) -> bool + Send + Sync>;

/// The application's hooks, if any.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_connect: Option<OnConnect>,
    pub(crate) on_disconnect: Option<OnDisconnect>,
    /// Without one, every subscription is refused.
    pub(crate) authorize_subscription: Option<AuthorizeSubscription>,
}

/// What the connect hook can see and do: the new connection (its id, identity and path),
/// joining groups, storing per-connection state for handlers, and application state.
pub struct ConnectContext<'a> {
    pub(crate) runtime: &'a dyn Runtime,
    pub(crate) info: &'a mut ConnectionInfo,
}

impl ConnectContext<'_> {
    /// The new connection's id.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.info.id
    }

    /// The user id of the connection's identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.info.user_id()
    }

    /// The connection's identity, if it has one of type `T`.
    pub fn identity<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.info.identity()
    }

    /// The WebSocket request path the connection is opened on.
    pub fn path(&self) -> &str {
        &self.info.path
    }

    /// Application state of type `T`, if the dispatcher was built with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        app_state(self.runtime)
    }

    /// Adds the connection to `group` (until it leaves or disconnects).
    pub fn join(&mut self, group: &str) {
        // The connection is registered with the hub before the hook runs.
        let _ = self.runtime.join(&self.info.id, group);
    }

    /// Stores `value` as this connection's state of type `T`, for handlers
    /// ([`ConnectionState<T>`](crate::ConnectionState)) and the disconnect hook. One value
    /// per type: a second `insert` of a type replaces the first.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.info.states.insert(TypeId::of::<T>(), Box::new(value));
    }
}

impl fmt::Debug for ConnectContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectContext")
            .field("connection_id", &self.info.id)
            .field("user_id", &self.user_id())
            .field("path", &self.info.path)
            .finish_non_exhaustive()
    }
}

/// What the disconnect hook can see: the connection that ended (its id, identity and path),
/// the groups it was a member of, its per-connection state, and application state.
pub struct DisconnectContext<'a> {
    pub(crate) runtime: &'a dyn Runtime,
    pub(crate) info: &'a ConnectionInfo,
    pub(crate) groups: Vec<Arc<str>>,
}

impl DisconnectContext<'_> {
    /// The connection's id.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.info.id
    }

    /// The user id of the connection's identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.info.user_id()
    }

    /// The connection's identity, if it had one of type `T`.
    pub fn identity<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.info.identity()
    }

    /// The WebSocket request path the connection was opened on.
    pub fn path(&self) -> &str {
        &self.info.path
    }

    /// The groups the connection was a member of when it ended, in the order it joined them.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|group| &**group)
    }

    /// The connection's own state of type `T`, if the connect hook stored one.
    pub fn connection_state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.info.state()
    }

    /// Application state of type `T`, if the dispatcher was built with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        app_state(self.runtime)
    }
}

impl fmt::Debug for DisconnectContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DisconnectContext")
            .field("connection_id", &self.info.id)
            .field("user_id", &self.user_id())
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// What the subscription hook decides on: a version-2 connection (its id, identity, path and
/// per-connection state) asking to subscribe to a topic, or for the presence of a group.
pub struct SubscriptionRequest<'a> {
    pub(crate) runtime: &'a dyn Runtime,
    pub(crate) info: &'a ConnectionInfo,
    pub(crate) topic: &'a TopicPattern,
    pub(crate) presence: bool,
}

impl SubscriptionRequest<'_> {
    /// The topic: an exact group name or a pattern ([`TopicPattern::is_pattern`]).
    pub fn topic(&self) -> &TopicPattern {
        self.topic
    }

    /// Whether the connection asks to see who is in the group (`beeflow.presence`, or
    /// `beeflow.subscribe` with `"presence": true`).
    pub fn wants_presence(&self) -> bool {
        self.presence
    }

    /// The connection's id.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.info.id
    }

    /// The user id of the connection's identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.info.user_id()
    }

    /// The connection's identity, if it has one of type `T`.
    pub fn identity<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.info.identity()
    }

    /// The WebSocket request path the connection was opened on.
    pub fn path(&self) -> &str {
        &self.info.path
    }

    /// The connection's own state of type `T`, if the connect hook stored one.
    pub fn connection_state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.info.state()
    }

    /// Application state of type `T`, if the dispatcher was built with it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        app_state(self.runtime)
    }
}

impl fmt::Debug for SubscriptionRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionRequest")
            .field("connection_id", &self.info.id)
            .field("user_id", &self.user_id())
            .field("topic", &self.topic.as_str())
            .field("presence", &self.presence)
            .finish_non_exhaustive()
    }
}
