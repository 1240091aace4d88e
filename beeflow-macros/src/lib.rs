//! The macros of beeflow: `#[action]`, `#[derive(Event)]` and `#[recipient]`.
//!
//! Use them through [`beeflow_core`](https://docs.rs/beeflow-core), which re-exports them
//! (feature `macros`, on by default) together with the types they name. Each macro
//! generates a registration that [`Registry::global`] collects at startup; with
//! `register = false` it only generates the type handle, for explicit registries built
//! with [`Registry::builder`] (tests do this).
//!
//! # `#[action(name = "...")]`
//!
//! Turns an `async fn` into the handler of an action. The first parameter is the typed
//! payload (`Deserialize + JsonSchema`); a handler without parameters, or whose first
//! parameter is an extractor (or `_: ()`), takes no payload and accepts any object.
//! Further parameters are extracted from the request's context ([`ActionContext`],
//! [`State<T>`], [`Identity<T>`], ...). The handler may return `()`, an event, an `Emit`,
//! a `Vec` of those, an `EventStream`, or a `Result` of any of these. Its doc comment
//! becomes the action's description. Beside the function, a type handle of the same name
//! is generated for `Registry::builder().action::<echo>()`.
//!
//! ```
//! use beeflow_core::{ActionContext, Event, State, action};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, schemars::JsonSchema)]
//! struct EchoPayload {
//!     text: String,
//! }
//!
//! #[derive(Serialize, schemars::JsonSchema, Event)]
//! #[event(name = "echoed")]
//! struct Echoed {
//!     text: String,
//! }
//!
//! #[derive(Clone)]
//! struct Prefix(&'static str);
//!
//! /// Echoes the text back.
//! #[action(name = "echo")]
//! async fn echo(payload: EchoPayload, _cx: ActionContext, State(prefix): State<Prefix>) -> Echoed {
//!     Echoed { text: format!("{}{}", prefix.0, payload.text) }
//! }
//!
//! let registry = beeflow_core::Registry::builder().action::<echo>().build().unwrap();
//! assert_eq!(registry.action("echo").unwrap().description, "Echoes the text back.");
//! ```
//!
//! # `#[derive(Event)]`
//!
//! Implements [`Event`] with the type's name, or the one given with
//! `#[event(name = "...")]`. The type also needs `Serialize` and `JsonSchema`.
//!
//! ```
//! use beeflow_core::Event;
//!
//! #[derive(serde::Serialize, schemars::JsonSchema, Event)]
//! #[event(name = "chat_message")]
//! struct ChatMessage {
//!     text: String,
//! }
//!
//! assert_eq!(<ChatMessage as Event>::NAME, "chat_message");
//! ```
//!
//! # `#[recipient(name = "...")]`
//!
//! Turns an `async fn` into the resolver of a recipient type: it takes the recipient id
//! (`String`) and context extractors, and returns `Vec<ConnectionId>` (or a `Result` of
//! it). Events sent with `Emit::to(Recipient::new("team", id), &event)` reach the
//! connections it returns.
//!
//! ```
//! use beeflow_core::{ConnectionId, State, recipient};
//!
//! #[derive(Clone)]
//! struct Teams;
//!
//! #[recipient(name = "team")]
//! async fn team(id: String, State(_teams): State<Teams>) -> Vec<ConnectionId> {
//!     vec![ConnectionId::new(id)]
//! }
//! # let _ = beeflow_core::Registry::builder().resolver::<team>();
//! ```
//!
//! # Common arguments
//!
//! | argument | meaning |
//! | --- | --- |
//! | `name = "..."` | the registered name (required for `#[action]` and `#[recipient]`) |
//! | `crate = path` | where `beeflow_core` is, when it is renamed or re-exported |
//! | `register = false` | skip the global registration |
//!
//! [`Registry::global`]: https://docs.rs/beeflow-core/latest/beeflow_core/registry/struct.Registry.html#method.global
//! [`Registry::builder`]: https://docs.rs/beeflow-core/latest/beeflow_core/registry/struct.Registry.html#method.builder
//! [`ActionContext`]: https://docs.rs/beeflow-core/latest/beeflow_core/struct.ActionContext.html
//! [`State<T>`]: https://docs.rs/beeflow-core/latest/beeflow_core/struct.State.html
//! [`Identity<T>`]: https://docs.rs/beeflow-core/latest/beeflow_core/struct.Identity.html
//! [`Event`]: https://docs.rs/beeflow-core/latest/beeflow_core/event/trait.Event.html

mod action;
mod attr;
mod errors;
mod event;
mod recipient;
mod signature;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Registers an `async fn` as the handler of an action; see the [crate docs](crate).
///
/// ```
/// use beeflow_core::{Event, action};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct EchoPayload {
///     text: String,
/// }
///
/// #[derive(serde::Serialize, schemars::JsonSchema, Event)]
/// struct Echoed {
///     text: String,
/// }
///
/// /// Echoes the text back.
/// #[action(name = "echo", register = false)]
/// async fn echo(payload: EchoPayload) -> Echoed {
///     Echoed { text: payload.text }
/// }
///
/// let registry = beeflow_core::Registry::builder().action::<echo>().build().unwrap();
/// assert_eq!(registry.action("echo").unwrap().payload_type, "EchoPayload");
/// ```
#[proc_macro_attribute]
pub fn action(args: TokenStream, item: TokenStream) -> TokenStream {
    action::expand(args.into(), item.into()).into()
}

/// Registers an `async fn` as the resolver of a recipient type; see the
/// [crate docs](crate).
///
/// ```
/// use beeflow_core::{ConnectionId, recipient};
///
/// /// A connection id is its own room.
/// #[recipient(name = "room", register = false)]
/// async fn room(id: String) -> Vec<ConnectionId> {
///     vec![ConnectionId::new(id)]
/// }
///
/// let registry = beeflow_core::Registry::builder().resolver::<room>().build().unwrap();
/// assert!(registry.resolver("room").is_some());
/// ```
#[proc_macro_attribute]
pub fn recipient(args: TokenStream, item: TokenStream) -> TokenStream {
    recipient::expand(args.into(), item.into()).into()
}

/// Implements `Event` for a struct or enum and registers it; see the
/// [crate docs](crate).
///
/// ```
/// use beeflow_core::Event;
///
/// #[derive(serde::Serialize, schemars::JsonSchema, Event)]
/// #[event(name = "user_joined", register = false)]
/// struct UserJoined {
///     user: String,
/// }
///
/// assert_eq!(<UserJoined as Event>::NAME, "user_joined");
/// ```
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input).into()
}
