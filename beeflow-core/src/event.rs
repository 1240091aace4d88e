//! Events: what handlers produce and connections receive.

use std::fmt;

use serde::Serialize;

use crate::location::Location;
use crate::problem::Problem;
use crate::recipient::Recipients;

/// A typed event payload with a registered name.
///
/// Derive it with `#[derive(Event)]` (the name defaults to the type name; override it with
/// `#[event(name = "...")]`). The payload must serialize to a JSON object.
///
/// ```
/// use beeflow_core::Event;
///
/// #[derive(serde::Serialize, schemars::JsonSchema, Event)]
/// #[event(name = "chat_message")]
/// struct ChatMessage {
///     text: String,
/// }
///
/// assert_eq!(<ChatMessage as Event>::NAME, "chat_message");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a beeflow event",
    note = "add `#[derive(beeflow_core::Event)]` to `{Self}` (it also needs `Serialize` and `JsonSchema`)"
)]
pub trait Event: EventPayload {
    /// The event name sent in the `event` member.
    const NAME: &'static str;

    /// Whether a slow client may miss this event instead of being disconnected
    /// ([`SlowConsumer::DropDroppable`](crate::SlowConsumer::DropDroppable)); set with
    /// `#[event(droppable)]`. For events a newer one supersedes, like a cursor position.
    const DROPPABLE: bool = false;
}

/// What an event type must be: `Event`'s supertrait, so that a missing derive is reported
/// with a beeflow message instead of rustc's view of serde.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event",
    label = "not an event payload",
    note = "an event derives `serde::Serialize` and `schemars::JsonSchema` (schemars 1) beside `Event`, and is `Send + 'static`"
)]
#[doc(hidden)]
pub trait EventPayload: Serialize + schemars::JsonSchema + Send + 'static {}

impl<T: Serialize + schemars::JsonSchema + Send + 'static> EventPayload for T {}

/// How an event type is registered: everything the registry and the schema export need.
///
/// Built by `#[derive(Event)]`; read it through [`Registry::event`](crate::Registry::event).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EventDef {
    /// The registered event name.
    pub name: &'static str,
    /// The Rust type name of the payload (the event type).
    pub payload_type: &'static str,
    /// Builds the payload's JSON Schema.
    pub payload_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// Where the event was defined.
    pub location: Location,
}

impl EventDef {
    /// Builds the registration; the macros' generated code calls it. Not public API: use
    /// the macros, or the registry builder.
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        payload_type: &'static str,
        payload_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
        location: Location,
    ) -> Self {
        Self {
            name,
            payload_type,
            payload_schema,
            location,
        }
    }

    /// The registration of event type `E`, defined at the caller.
    #[track_caller]
    pub(crate) fn of<E: Event>() -> Self {
        Self::new(
            E::NAME,
            std::any::type_name::<E>(),
            |generator| generator.subschema_for::<E>(),
            Location::caller(),
        )
    }
}

inventory::collect!(EventDef);

/// An event ready to be delivered: its name and its payload serialized once, addressed to
/// [`Recipients`] (or, when there are none, to the connection that sent the request).
#[derive(Clone)]
pub struct Emit {
    pub(crate) recipients: Option<Recipients>,
    pub(crate) event: &'static str,
    /// A `String`, not an `Arc<str>`: it is written once and read once, per request.
    pub(crate) payload: String,
    pub(crate) droppable: bool,
}

impl Emit {
    /// Addresses `event` to `to`: a [`Recipient`](crate::Recipient), or several
    /// ([`Recipients`]: each connection they reach gets it once).
    ///
    /// # Errors
    ///
    /// Fails with an `event_serialization_failed` problem when the payload does not
    /// serialize to a JSON object.
    pub fn to<E: Event>(to: impl Into<Recipients>, event: &E) -> Result<Self, Problem> {
        Ok(Self {
            recipients: Some(to.into()),
            event: E::NAME,
            payload: serialize_payload(event)?,
            droppable: E::DROPPABLE,
        })
    }

    /// Addresses `event` to the connection whose request is being handled.
    ///
    /// # Errors
    ///
    /// Fails like [`Emit::to`].
    pub fn reply<E: Event>(event: &E) -> Result<Self, Problem> {
        Ok(Self {
            recipients: None,
            event: E::NAME,
            payload: serialize_payload(event)?,
            droppable: E::DROPPABLE,
        })
    }

    /// The event name.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// The recipients, or `None` for "the requesting connection".
    pub fn recipients(&self) -> Option<&Recipients> {
        self.recipients.as_ref()
    }

    /// The serialized payload object.
    pub fn payload_json(&self) -> &str {
        &self.payload
    }
}

impl fmt::Debug for Emit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emit")
            .field("event", &self.event)
            .field("recipients", &self.recipients)
            .field("payload", &&*self.payload)
            .finish()
    }
}

fn serialize_payload<E: Event>(event: &E) -> Result<String, Problem> {
    // Room for a small payload up front: growing from empty would reallocate a few times.
    let mut json = Vec::with_capacity(64);
    match serde_json::to_writer(&mut json, event) {
        Ok(()) if json.first() == Some(&b'{') => {
            Ok(String::from_utf8(json).expect("serde_json writes UTF-8"))
        }
        Ok(()) => Err(Problem::event_serialization_failed(E::NAME)),
        Err(err) => {
            tracing::error!(event = E::NAME, error = %err, "event payload failed to serialize");
            Err(Problem::event_serialization_failed(E::NAME))
        }
    }
}
