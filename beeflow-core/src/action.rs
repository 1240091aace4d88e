//! Actions: the handlers clients invoke, and what they may return.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{BoxStream, Stream, StreamExt};

use crate::context::{ActionContext, Requirement};
use crate::event::{Emit, Event};
use crate::location::Location;
use crate::problem::{IntoProblem, Problem};

/// The future an action handler runs as.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Events, Problem>> + Send>>;

/// A type-erased action handler: decodes the raw payload JSON and extracts its arguments
/// synchronously (failing with a Problem), then returns the future that runs the handler.
pub type Handler = fn(ActionContext, &str) -> Result<HandlerFuture, Problem>;

/// What an action can answer with, for the schema documents: the names of the events it
/// can produce and the `code`s of the Problems of its own it can fail with. Collected from
/// the handler's return type where it names them (an event, `Vec<E>`, `Result<_, E>` with
/// [`IntoProblem::problem_codes`]) and from `#[action(emits(...), problems(...))]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replies {
    /// Event names, each once, in the order first declared.
    pub events: Vec<&'static str>,
    /// Problem codes, each once, in the order first declared.
    pub problems: Vec<&'static str>,
}

impl Replies {
    /// Adds an event name (once).
    pub fn event(&mut self, name: &'static str) {
        if !self.events.contains(&name) {
            self.events.push(name);
        }
    }

    /// Adds Problem codes (each once).
    pub fn problems(&mut self, codes: &[&'static str]) {
        for code in codes {
            if !self.problems.contains(code) {
                self.problems.push(code);
            }
        }
    }
}

/// How an action is registered: everything the dispatcher and the schema export need.
///
/// Built by `#[action]`; read it through [`Registry::action`](crate::Registry::action).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ActionDef {
    /// The action name clients send in `action`.
    pub name: &'static str,
    /// Runs the action.
    pub handler: Handler,
    /// The Rust type name of the payload.
    pub payload_type: &'static str,
    /// Builds the payload's JSON Schema.
    pub payload_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// The handler's doc comment.
    pub description: &'static str,
    /// Where the action was defined.
    pub location: Location,
    /// What the handler's arguments need from the dispatcher.
    pub requirements: fn() -> Vec<Requirement>,
    /// What it can answer with.
    pub replies: fn() -> Replies,
    /// Whether its requests run beside the connection's other requests
    /// (`#[action(concurrent)]`) instead of one at a time in arrival order.
    pub concurrent: bool,
}

impl ActionDef {
    /// Builds the registration; the macros' generated code calls it. Not public API: use
    /// the macros, or the registry builder.
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        handler: Handler,
        payload_type: &'static str,
        payload_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
        description: &'static str,
        location: Location,
    ) -> Self {
        Self {
            name,
            handler,
            payload_type,
            payload_schema,
            description,
            location,
            requirements: Vec::new,
            replies: Replies::default,
            concurrent: false,
        }
    }

    /// Marks the action concurrent; the macros' generated code calls it.
    #[doc(hidden)]
    #[must_use]
    pub const fn with_concurrent(mut self, concurrent: bool) -> Self {
        self.concurrent = concurrent;
        self
    }

    /// Sets what the action can answer with; the macros' generated code calls it.
    #[doc(hidden)]
    #[must_use]
    pub const fn with_replies(mut self, replies: fn() -> Replies) -> Self {
        self.replies = replies;
        self
    }

    /// Sets what the handler's arguments need; the macros' generated code calls it.
    #[doc(hidden)]
    #[must_use]
    pub const fn with_requirements(mut self, requirements: fn() -> Vec<Requirement>) -> Self {
        self.requirements = requirements;
        self
    }
}

inventory::collect!(ActionDef);

/// The type handle `#[action]` generates beside a handler function, used to register it
/// explicitly with [`RegistryBuilder::action`](crate::registry::RegistryBuilder::action).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an action",
    note = "annotate an `async fn` with `#[beeflow_core::action(name = \"...\")]` and pass its name"
)]
pub trait Action {
    /// The action's registration.
    const DEF: &'static ActionDef;
}

/// The events an action produced: ready now, or a stream produced over time.
///
/// Opaque: handlers return any [`IntoEvents`] type, which converts into it.
pub struct Events(pub(crate) EventsInner);

pub(crate) enum EventsInner {
    None,
    One(Emit),
    Many(Vec<Emit>),
    Stream(BoxStream<'static, Result<Emit, Problem>>),
}

impl Events {
    /// No events.
    pub fn none() -> Self {
        Self(EventsInner::None)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            EventsInner::None => f.write_str("Events::None"),
            EventsInner::One(e) => f.debug_tuple("Events::One").field(e).finish(),
            EventsInner::Many(v) => f.debug_tuple("Events::Many").field(v).finish(),
            EventsInner::Stream(_) => f.write_str("Events::Stream(..)"),
        }
    }
}

/// A stream of events an action produces over time, delivered as each one is ready.
///
/// Items may be events (sent to the requester), [`Emit`]s, or `Result`s of either; the first
/// error ends the stream and reaches the requester as a Problem.
///
/// ```
/// use beeflow_core::{Event, EventStream};
/// use futures_util::stream;
///
/// #[derive(serde::Serialize, schemars::JsonSchema, Event)]
/// struct Progress {
///     percent: u8,
/// }
///
/// fn progress() -> EventStream {
///     EventStream::new(stream::iter([0, 50, 100]).map(|percent| Progress { percent }))
/// }
/// # use futures_util::StreamExt;
/// ```
pub struct EventStream(BoxStream<'static, Result<Emit, Problem>>);

impl EventStream {
    /// Wraps a stream of events.
    pub fn new<S>(stream: S) -> Self
    where
        S: Stream + Send + 'static,
        S::Item: IntoEmit,
    {
        Self(stream.map(IntoEmit::into_emit).boxed())
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventStream(..)")
    }
}

/// One event to deliver: an [`Event`] (sent to the requester), an [`Emit`], or a `Result` of
/// either.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    note = "derive `beeflow_core::Event` for it, or address it with `Emit::to(recipient, &event)`"
)]
pub trait IntoEmit {
    /// Performs the conversion.
    ///
    /// # Errors
    ///
    /// The item's own error, or a serialization failure, as a Problem.
    fn into_emit(self) -> Result<Emit, Problem>;

    /// Adds what this type says about itself to `replies` (nothing by default: an `Emit`
    /// can carry any event).
    fn declare(replies: &mut Replies) {
        let _ = replies;
    }
}

impl<E: Event> IntoEmit for E {
    fn into_emit(self) -> Result<Emit, Problem> {
        Emit::reply(&self)
    }

    fn declare(replies: &mut Replies) {
        replies.event(E::NAME);
    }
}

impl IntoEmit for Emit {
    fn into_emit(self) -> Result<Emit, Problem> {
        Ok(self)
    }
}

impl<T: IntoEmit, E: IntoProblem> IntoEmit for Result<T, E> {
    fn into_emit(self) -> Result<Emit, Problem> {
        self.map_err(IntoProblem::into_problem)?.into_emit()
    }

    fn declare(replies: &mut Replies) {
        T::declare(replies);
        replies.problems(E::problem_codes());
    }
}

/// What an `#[action]` handler may return: nothing (`()`), one event, an [`Emit`], a `Vec`
/// of them, an [`EventStream`], or a `Result` of any of these whose error implements
/// [`IntoProblem`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid `#[action]` return type",
    note = "return `()`, an event, `Emit`, `Vec<_>` of those, `EventStream`, or `Result<_, E>` where `E: IntoProblem`"
)]
pub trait IntoEvents {
    /// Performs the conversion.
    ///
    /// # Errors
    ///
    /// The handler's own error, or a serialization failure, as a Problem.
    fn into_events(self) -> Result<Events, Problem>;

    /// Adds the events and Problem codes this type names to `replies` (nothing by default:
    /// an `Emit` or a stream can carry any event).
    fn declare(replies: &mut Replies) {
        let _ = replies;
    }
}

impl IntoEvents for () {
    fn into_events(self) -> Result<Events, Problem> {
        Ok(Events::none())
    }
}

impl IntoEvents for Events {
    fn into_events(self) -> Result<Events, Problem> {
        Ok(self)
    }
}

impl<E: Event> IntoEvents for E {
    fn into_events(self) -> Result<Events, Problem> {
        Ok(Events(EventsInner::One(Emit::reply(&self)?)))
    }

    fn declare(replies: &mut Replies) {
        replies.event(E::NAME);
    }
}

impl IntoEvents for Emit {
    fn into_events(self) -> Result<Events, Problem> {
        Ok(Events(EventsInner::One(self)))
    }
}

impl<T: IntoEmit> IntoEvents for Vec<T> {
    fn into_events(self) -> Result<Events, Problem> {
        let emits = self
            .into_iter()
            .map(IntoEmit::into_emit)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Events(EventsInner::Many(emits)))
    }

    fn declare(replies: &mut Replies) {
        T::declare(replies);
    }
}

impl IntoEvents for EventStream {
    fn into_events(self) -> Result<Events, Problem> {
        Ok(Events(EventsInner::Stream(self.0)))
    }
}

impl<T: IntoEvents, E: IntoProblem> IntoEvents for Result<T, E> {
    fn into_events(self) -> Result<Events, Problem> {
        self.map_err(IntoProblem::into_problem)?.into_events()
    }

    fn declare(replies: &mut Replies) {
        T::declare(replies);
        replies.problems(E::problem_codes());
    }
}

/// Decodes an action's raw payload JSON into its typed payload. The envelope parser already
/// bounded the nesting depth, so serde_json's own recursion limit (128, below the protocol's
/// 500) is lifted and `serde_stacker` grows the stack for deep payloads instead.
///
/// # Errors
///
/// `invalid_action_payload` naming the failing path.
pub fn decode_payload<T: serde::de::DeserializeOwned>(
    action: &str,
    raw: &str,
) -> Result<T, Problem> {
    let mut json = serde_json::Deserializer::from_str(raw);
    json.disable_recursion_limit();
    let deserializer = serde_stacker::Deserializer::new(&mut json);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        Problem::invalid_action_payload(action, &path, &err.into_inner().to_string())
    })
}
