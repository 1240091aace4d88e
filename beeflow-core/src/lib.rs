//! Typed WebSocket action/event dispatch, wire-compatible with the Python library
//! `beeflow-websocket` 0.3.0.
//!
//! Clients send action envelopes `{msg_id, req_id, action, payload}`; a registered handler
//! runs and yields events; each event names a recipient that a resolver turns into
//! connections; errors are RFC 9457 [`Problem`]s. This crate owns all of that and knows no
//! web framework: adapters (`beeflow-axum`, `beeflow-actix`) only move frames between a
//! socket and a [`transport::Connection`].
//!
#![cfg_attr(
    all(feature = "macros", feature = "test-util"),
    doc = r#"```
use beeflow_core::testing::TestClient;
use beeflow_core::{Dispatcher, Event, Registry, action};
use serde::{Deserialize, Serialize};

/// Says hello.
#[derive(Deserialize, schemars::JsonSchema)]
struct Greet {
    name: String,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "greeting")]
struct Greeting {
    text: String,
}

#[action(name = "greet")]
async fn greet(payload: Greet) -> Greeting {
    Greeting { text: format!("Hello, {}!", payload.name) }
}

# #[tokio::main(flavor = "current_thread")]
# async fn main() {
let dispatcher = Dispatcher::builder().build().unwrap();
let mut client = TestClient::connect(&dispatcher);
let frames = client.send("greet", serde_json::json!({ "name": "Ada" })).await;
assert_eq!(frames[0]["event"], "greeting");
assert_eq!(frames[0]["payload"]["text"], "Hello, Ada!");
# }
```"#
)]
//!
//! # What is where
//!
//! The crate root is what an application uses: the macros, [`Dispatcher`], the handler
//! contexts and extractors, [`Emit`] and [`Recipient`], [`Problem`], [`Limits`] and the
//! [`HandshakePolicy`]. The modules are for the other audiences:
//!
//! | module | for |
//! | ------ | --- |
//! | [`handler`] | the traits that connect plain functions to the dispatcher (what they take and return) |
//! | [`registry`] | the registration records and building a registry by hand |
//! | [`schema`] | JSON Schema and AsyncAPI documents for clients |
//! | [`transport`] | adapter authors: the per-connection driver, [`transport::serve`], the handshake helpers |
//! | [`broker`] | broker authors: carrying deliveries between nodes |
//! | [`envelope`] | the wire format of the action and event envelopes |
//! | `testing` | an in-memory client (feature `test-util`) |
//!
//! # Features
//!
//! | feature     | default | what it adds |
//! | ----------- | ------- | ------------ |
//! | `macros`    | yes     | `#[action]`, `#[derive(Event)]`, `#[recipient]` |
//! | `redis`     | no      | `broker::RedisBroker`: multi-node delivery through Redis pub/sub |
//! | `sync`      | no      | `Synced`: state kept in sync with clients by JSON Patch events |
//! | `msgpack`   | no      | subprotocol `beeflow.v2.msgpack`: version-2 frames as MessagePack binary messages |
//! | `test-util` | no      | `testing::TestClient`: actions tested in memory, without a socket |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod action;
pub mod broker;
mod builtin;
mod connection;
mod context;
mod dispatch;
pub mod envelope;
mod event;
mod handshake;
mod hooks;
mod hub;
mod identity;
mod limits;
mod location;
mod node;
mod outbound;
mod pattern;
mod presence;
mod problem;
mod rate;
mod recipient;
pub mod registry;
mod resolver;
pub mod schema;
#[cfg(feature = "sync")]
mod sync_store;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
mod synced;
mod telemetry;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
pub mod transport;
mod type_key;
mod wait;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The traits that connect plain `async fn`s to the dispatcher: what a handler or resolver
/// may take ([`FromContext`](handler::FromContext)) and return
/// ([`IntoEvents`](handler::IntoEvents), [`IntoEmit`](handler::IntoEmit),
/// [`IntoConnections`](handler::IntoConnections)), and the type handles the macros generate
/// ([`Action`](handler::Action), [`Resolver`](handler::Resolver)).
///
/// Applications rarely name these: they show up in compiler errors and in the bounds of
/// generic code.
pub mod handler {
    pub use crate::action::{Action, Events, IntoEmit, IntoEvents, Replies};
    pub use crate::context::{FromContext, Requirement};
    pub use crate::resolver::{IntoConnections, Resolver};
    pub use crate::type_key::TypeKey;
}

pub use action::EventStream;
pub use context::{ActionContext, ConnectionState, ResolveContext, State};
pub use dispatch::{BuildError, Dispatcher, DispatcherBuilder, ShutdownReport};
pub use event::{Emit, Event};
pub use handshake::{HandshakePolicy, HandshakeRequest};
pub use hooks::{ConnectContext, DisconnectContext, SubscriptionRequest};
pub use hub::{DeliveryReport, NodeStats};
pub use identity::{Identity, Principal};
pub use limits::{HistoryLimits, Limits, SlowConsumer};
pub use pattern::{InvalidTopic, TopicPattern};
pub use presence::{Presence, PresenceMember, PresenceNotice};
pub use problem::{IntoProblem, Problem};
pub use rate::{Rate, RateLimits};
pub use recipient::{ConnectionId, NoRecipient, Recipient, Recipients};
pub use registry::Registry;
#[cfg(feature = "sync")]
pub use synced::{SyncError, Synced, SyncedHost};

#[cfg(feature = "macros")]
pub use beeflow_macros::{Event, action, recipient};
