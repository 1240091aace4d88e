//! Support for the code the macros generate. Not public API: anything here may change in
//! any release.

pub use inventory;
pub use schemars;

pub use crate::action::{
    Action, ActionDef, Events, HandlerFuture, IntoEvents, Replies, decode_payload,
};
pub use crate::context::{ActionContext, FromContext, Requirement, ResolveContext};
pub use crate::event::{Event, EventDef, EventPayload};
pub use crate::location::Location;
pub use crate::problem::Problem;
pub use crate::recipient::ConnectionId;
pub use crate::resolver::{IntoConnections, ResolveFuture, Resolver, ResolverDef};

use serde::de::DeserializeOwned;

/// The JSON Schema of `T`, as a `fn` pointer for a registration.
pub fn schema_for<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// What an action's payload type must be; a failed check names the payload, not serde.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an action payload",
    label = "not an action payload",
    note = "an action payload derives `serde::Deserialize` and `schemars::JsonSchema` (schemars 1), and is `Send + 'static`",
    note = "the first parameter is the payload; an action without one starts with `ActionContext` (or another extractor), or takes no parameters"
)]
pub trait ActionPayload: DeserializeOwned + schemars::JsonSchema + Send + 'static {}

impl<T: DeserializeOwned + schemars::JsonSchema + Send + 'static> ActionPayload for T {}

/// Checks, at the user's span, that a payload type can be decoded and described.
pub const fn assert_payload<T: ActionPayload>() {}

/// The type of a resolver's first parameter: the recipient id, as sent in `recipient_id`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a recipient id",
    label = "the recipient id is a `String`",
    note = "a `#[recipient]` resolver takes the id as sent: write `id: String` and parse it in the body"
)]
pub trait FromRecipientId: Sized {
    /// Takes the id.
    fn from_recipient_id(id: String) -> Self;
}

impl FromRecipientId for String {
    fn from_recipient_id(id: String) -> Self {
        id
    }
}

/// Converts a handler's return value.
///
/// # Errors
///
/// The handler's own error, as a Problem.
pub fn into_events<T: IntoEvents>(value: T) -> Result<Events, Problem> {
    value.into_events()
}

/// Converts a resolver's return value.
///
/// # Errors
///
/// The resolver's own error, as a Problem.
pub fn into_connections<T: IntoConnections>(value: T) -> Result<Vec<ConnectionId>, Problem> {
    value.into_connections()
}
