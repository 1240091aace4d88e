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

impl Recipient {
    /// This recipient and `other`: each connection either reaches gets the event once.
    ///
    /// ```
    /// use beeflow_core::Recipient;
    ///
    /// let to = Recipient::user("bob").and(Recipient::group("board"));
    /// assert_eq!(to.iter().count(), 2);
    /// ```
    #[must_use]
    pub fn and(self, other: Recipient) -> Recipients {
        Recipients::from(self).and(other)
    }

    /// Every connection this recipient reaches except `connection` (typically the sender:
    /// "everyone on the board but me").
    #[must_use]
    pub fn except(self, connection: &ConnectionId) -> Recipients {
        Recipients::from(self).except(connection)
    }
}

/// Whom one emit is for: one or more [`Recipient`]s, less an optional connection. A
/// connection that several of them reach gets the event once, with one `msg_id`, on every
/// node; its `recipient` and `recipient_id` name the first recipient, in the order given,
/// that reaches it.
///
/// Build one with [`Recipient::and`] and [`Recipient::except`], or from a `Vec` or an array
/// of recipients; a single [`Recipient`] converts into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients {
    first: Recipient,
    rest: Vec<Recipient>,
    except: Option<ConnectionId>,
}

impl Recipients {
    /// These recipients and `other` too.
    #[must_use]
    pub fn and(mut self, other: Recipient) -> Self {
        self.rest.push(other);
        self
    }

    /// Leaves `connection` out, wherever it is reached from.
    #[must_use]
    pub fn except(mut self, connection: &ConnectionId) -> Self {
        self.except = Some(connection.clone());
        self
    }

    /// The recipients, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Recipient> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// The connection left out, if any.
    pub fn excepted(&self) -> Option<&ConnectionId> {
        self.except.as_ref()
    }

    /// The recipient, when there is exactly one and no exception: the common case, which
    /// needs no de-duplication.
    pub(crate) fn single(&self) -> Option<&Recipient> {
        (self.rest.is_empty() && self.except.is_none()).then_some(&self.first)
    }

    /// Builds from a list: `None` when it is empty.
    fn from_list(list: impl IntoIterator<Item = Recipient>) -> Option<Self> {
        let mut list = list.into_iter();
        let first = list.next()?;
        Some(Self {
            first,
            rest: list.collect(),
            except: None,
        })
    }
}

impl From<Recipient> for Recipients {
    fn from(first: Recipient) -> Self {
        Self {
            first,
            rest: Vec::new(),
            except: None,
        }
    }
}

impl<const N: usize> From<[Recipient; N]> for Recipients {
    /// An empty array does not compile: an emit needs at least one recipient.
    fn from(list: [Recipient; N]) -> Self {
        const { assert!(N > 0, "an emit needs at least one recipient") };
        Self::from_list(list).expect("N > 0")
    }
}

impl TryFrom<Vec<Recipient>> for Recipients {
    type Error = NoRecipient;

    fn try_from(list: Vec<Recipient>) -> Result<Self, NoRecipient> {
        Self::from_list(list).ok_or(NoRecipient)
    }
}

/// A list of recipients was empty: an emit needs at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an emit needs at least one recipient")]
pub struct NoRecipient;
