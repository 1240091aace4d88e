//! Recipients: the logical addresses events are sent to, and the resolvers that turn them
//! into connections.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::context::ResolveContext;
use crate::problem::{IntoProblem, Problem};
use crate::registry::Location;

/// The built-in recipient type that addresses one connection (`recipient_id`: its id).
pub const WEBSOCKET: &str = "websocket";

/// The built-in recipient type that addresses every connection of a user, on every node
/// (`recipient_id`: the [`Principal::user_id`](crate::Principal::user_id)).
pub const USER: &str = "user";

/// The built-in recipient type that addresses every member of a group, on every node
/// (`recipient_id`: the group name).
pub const GROUP: &str = "group";

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

/// The future a recipient resolver returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = Result<Vec<ConnectionId>, Problem>> + Send>>;

/// How a recipient type is registered.
#[derive(Debug, Clone, Copy)]
pub struct RecipientDef {
    /// The recipient type name.
    pub name: &'static str,
    /// Resolves a recipient id into connection ids.
    pub resolve: fn(ResolveContext, String) -> ResolveFuture,
    /// Where the resolver was defined.
    pub location: Location,
}

inventory::collect!(RecipientDef);

/// What a `#[recipient]` resolver may return: connection ids, or a `Result` of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid `#[recipient]` return type",
    note = "a recipient resolver returns `Vec<ConnectionId>` or `Result<Vec<ConnectionId>, E>` where `E: IntoProblem`"
)]
pub trait IntoConnections {
    /// Performs the conversion.
    ///
    /// # Errors
    ///
    /// The resolver's own error, as a problem.
    fn into_connections(self) -> Result<Vec<ConnectionId>, Problem>;
}

impl IntoConnections for Vec<ConnectionId> {
    fn into_connections(self) -> Result<Vec<ConnectionId>, Problem> {
        Ok(self)
    }
}

impl<E: IntoProblem> IntoConnections for Result<Vec<ConnectionId>, E> {
    fn into_connections(self) -> Result<Vec<ConnectionId>, Problem> {
        self.map_err(IntoProblem::into_problem)
    }
}

/// The type handle `#[recipient]` generates for a resolver, used to register it explicitly
/// with [`RegistryBuilder::recipient`](crate::RegistryBuilder::recipient).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a recipient resolver",
    note = "annotate an `async fn` with `#[beeflow_core::recipient(name = \"...\")]` and pass its name"
)]
pub trait RecipientType {
    /// The resolver's registration.
    const DEF: &'static RecipientDef;
}

pub(crate) fn resolve_websocket(_cx: ResolveContext, id: String) -> ResolveFuture {
    Box::pin(std::future::ready(Ok(vec![ConnectionId::new(id)])))
}

// Deliveries to users and groups are routed by the hub and the broker, not through these
// resolvers; they answer with this node's members for code that resolves directly.
pub(crate) fn resolve_user(cx: ResolveContext, id: String) -> ResolveFuture {
    let local = cx
        .shared
        .hub
        .local_connections(crate::hub::Target::User(&id));
    Box::pin(std::future::ready(Ok(local)))
}

pub(crate) fn resolve_group(cx: ResolveContext, id: String) -> ResolveFuture {
    let local = cx
        .shared
        .hub
        .local_connections(crate::hub::Target::Group(&id));
    Box::pin(std::future::ready(Ok(local)))
}
