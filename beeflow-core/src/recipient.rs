//! Recipients: the logical addresses events are sent to (a connection, a user, a group, or
//! a type the application registers). Turning one into connections is the resolver's job
//! (`resolver.rs`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The built-in recipient type that addresses one connection (`recipient_id`: its id).
pub(crate) const WEBSOCKET: &str = "websocket";

/// The built-in recipient type that addresses every connection of a user, on every node
/// (`recipient_id`: the [`Principal::user_id`](crate::Principal::user_id)).
pub(crate) const USER: &str = "user";

/// The built-in recipient type that addresses every member of a group, on every node
/// (`recipient_id`: the group name).
pub(crate) const GROUP: &str = "group";

/// An opaque connection id. It embeds the id of the node that holds the connection, so a
/// delivery to one connection can be routed to exactly one node.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(Arc<str>);

impl ConnectionId {
    /// Wraps an id received from elsewhere (for example a `recipient_id`).
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ConnectionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A logical recipient: a registered recipient type and an id within it.
///
/// ```
/// use beeflow_core::Recipient;
///
/// let to_team = Recipient::new("team", "red");
/// assert_eq!(to_team.kind(), "team");
/// assert_eq!(to_team.id(), "red");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recipient {
    kind: Cow<'static, str>,
    id: Cow<'static, str>,
}

impl Recipient {
    /// A recipient of a registered type (`#[recipient(name = "...")]`).
    pub fn new(kind: impl Into<Cow<'static, str>>, id: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// One connection (the built-in `websocket` recipient type).
    pub fn connection(id: &ConnectionId) -> Self {
        Self::new(WEBSOCKET, id.as_str().to_owned())
    }

    /// Every connection of a user (the built-in `user` recipient type).
    pub fn user(user_id: impl Into<Cow<'static, str>>) -> Self {
        Self::new(USER, user_id)
    }

    /// Every member of a group (the built-in `group` recipient type).
    pub fn group(name: impl Into<Cow<'static, str>>) -> Self {
        Self::new(GROUP, name)
    }

    /// The recipient type, sent as `recipient`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The id within the type, sent as `recipient_id`.
    pub fn id(&self) -> &str {
        &self.id
    }
}
