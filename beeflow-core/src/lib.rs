//! Typed WebSocket action/event dispatch, wire-compatible with the Python library
//! `beeflow-websocket` 0.3.0.
//!
//! Clients send action envelopes `{msg_id, req_id, action, payload}`; a registered handler
//! runs and yields events; each event names a recipient that a resolver turns into
//! connections; errors are RFC 9457 [`Problem`]s. This crate owns all of that and knows no
//! web framework: adapters (`beeflow-axum`, `beeflow-actix`) only pump frames between a
//! socket and a [`Session`].
//!
//! ```
//! use beeflow_core::testing::TestClient;
//! use beeflow_core::{Dispatcher, Event, Registry, action};
//! use serde::{Deserialize, Serialize};
//!
//! /// Says hello.
//! #[derive(Deserialize, schemars::JsonSchema)]
//! struct Greet {
//!     name: String,
//! }
//!
//! #[derive(Serialize, schemars::JsonSchema, Event)]
//! #[event(name = "greeting")]
//! struct Greeting {
//!     text: String,
//! }
//!
//! #[action(name = "greet")]
//! async fn greet(payload: Greet) -> Greeting {
//!     Greeting { text: format!("Hello, {}!", payload.name) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dispatcher = Dispatcher::builder().build().unwrap();
//! let mut client = TestClient::connect(&dispatcher);
//! let frames = client.send("greet", serde_json::json!({ "name": "Ada" })).await;
//! assert_eq!(frames[0]["event"], "greeting");
//! assert_eq!(frames[0]["payload"]["text"], "Hello, Ada!");
//! # }
//! ```
//!
//! # Features
//!
//! | feature  | default | what it adds |
//! | -------- | ------- | ------------ |
//! | `macros` | yes     | `#[action]`, `#[derive(Event)]`, `#[recipient]` |
//! | `redis`  | no      | [`broker::RedisBroker`]: multi-node delivery through Redis pub/sub |

pub mod action;
pub mod broker;
mod builtin;
pub mod connection;
mod context;
mod delivery;
mod dispatch;
pub mod envelope;
pub mod event;
pub mod handshake;
mod hub;
mod identity;
mod limits;
mod outbound;
pub mod problem;
pub mod recipient;
pub mod registry;
pub mod schema;
mod session;
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use action::{Action, EventStream, Events, IntoEmit, IntoEvents};
pub use builtin::Health;
pub use connection::{Ended, Incoming, serve};
pub use context::{ActionContext, FromContext, Identity, ResolveContext, State};
pub use dispatch::{Dispatcher, DispatcherBuilder};
pub use event::{Emit, Event};
pub use hub::{DeliveryReport, EventFrame, HubStats};
pub use identity::Principal;
pub use limits::Limits;
pub use outbound::{CloseReason, OutFrame, Outbound, SlowConsumer};
pub use problem::{IntoProblem, Problem, ProblemTypeBase};
pub use recipient::{ConnectionId, Recipient, RecipientType};
pub use registry::{Registry, RegistryBuilder, RegistryError};
pub use session::{Inbound, Session};

#[cfg(feature = "macros")]
pub use beeflow_macros::{Event, action, recipient};
