//! The built-ins every server has (`docs/protocol.md` §4): action `health`, event `health`,
//! recipient types `websocket`, `user` and `group`; and those of protocol version 2
//! (`v2.rs`).
//!
//! They are written out by hand, without the macros, so the core builds without its
//! `macros` feature; they also show what the macros generate.

#[cfg(feature = "sync")]
pub(crate) mod state;
pub(crate) mod v2;

use crate::action::{ActionDef, HandlerFuture, IntoEvents, Replies};
use crate::context::{ActionContext, ResolveContext};
use crate::event::{Event, EventDef};
use crate::hub::Target;
use crate::location::Location;
use crate::problem::Problem;
use crate::recipient::{ConnectionId, GROUP, USER, WEBSOCKET};
use crate::resolver::{ResolveFuture, ResolverDef};

/// The payload of the `health` event: `{"status": "ok"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Health {
    /// Always `ok` while the server dispatches actions.
    pub(crate) status: &'static str,
}

impl Event for Health {
    const NAME: &'static str = "health";
}

/// The `health` action ignores its payload (any object) and answers the requester.
fn health(_cx: ActionContext, _payload: &str) -> Result<HandlerFuture, Problem> {
    Ok(Box::pin(async { Health { status: "ok" }.into_events() }))
}

fn any_object_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object" })
}

pub(crate) const HEALTH_ACTION: ActionDef = ActionDef::new(
    "health",
    health,
    "object",
    any_object_schema,
    "Checks that the server dispatches actions; answers with event `health`.",
    Location::new(module_path!(), file!(), line!()),
)
.with_replies(health_replies);

fn health_replies() -> Replies {
    let mut replies = Replies::default();
    <Health as IntoEvents>::declare(&mut replies);
    replies
}

pub(crate) const HEALTH_EVENT: EventDef = EventDef::new(
    Health::NAME,
    "beeflow_core::builtin::Health",
    |generator| generator.subschema_for::<Health>(),
    Location::new(module_path!(), file!(), line!()),
);

// Delivery routes the three built-in recipient types itself, on this node and through the
// broker to others, before any resolver would run. They are registered so the registry and
// the schemas list them and no application can take their names; resolved directly, they
// answer with this node's connections.

fn resolve_websocket(_cx: ResolveContext, id: String) -> ResolveFuture {
    Box::pin(std::future::ready(Ok(vec![ConnectionId::new(id)])))
}

fn resolve_user(cx: ResolveContext, id: String) -> ResolveFuture {
    let local = cx.runtime.hub().local_connections(Target::User(&id));
    Box::pin(std::future::ready(Ok(local)))
}

fn resolve_group(cx: ResolveContext, id: String) -> ResolveFuture {
    let local = cx.runtime.hub().local_connections(Target::Group(&id));
    Box::pin(std::future::ready(Ok(local)))
}

pub(crate) const WEBSOCKET_RESOLVER: ResolverDef = ResolverDef::new(
    WEBSOCKET,
    resolve_websocket,
    Location::new(module_path!(), file!(), line!()),
);

pub(crate) const USER_RESOLVER: ResolverDef = ResolverDef::new(
    USER,
    resolve_user,
    Location::new(module_path!(), file!(), line!()),
);

pub(crate) const GROUP_RESOLVER: ResolverDef = ResolverDef::new(
    GROUP,
    resolve_group,
    Location::new(module_path!(), file!(), line!()),
);

inventory::submit!(HEALTH_ACTION);
inventory::submit!(HEALTH_EVENT);
inventory::submit!(WEBSOCKET_RESOLVER);
inventory::submit!(USER_RESOLVER);
inventory::submit!(GROUP_RESOLVER);
