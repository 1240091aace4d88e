//! The built-ins every server has (PROTOCOL.md §4): action `health`, event `health`,
//! recipient types `websocket`, `user` and `group`.
//!
//! They are written out by hand, without the macros, so the core builds without its
//! `macros` feature; they also show what the macros generate.

use crate::action::{ActionDef, HandlerFuture};
use crate::context::ActionContext;
use crate::event::{Event, EventDef};
use crate::problem::Problem;
use crate::recipient::{GROUP, RecipientDef, USER, WEBSOCKET};
use crate::registry::Location;
use crate::{IntoEvents, recipient};

/// The payload of the `health` event: `{"status": "ok"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Health {
    /// Always `ok` while the server dispatches actions.
    pub status: &'static str,
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

pub(crate) const HEALTH_ACTION: ActionDef = ActionDef {
    name: "health",
    handler: health,
    payload_type: "object",
    payload_schema: any_object_schema,
    description: "Checks that the server dispatches actions; answers with event `health`.",
    location: Location::here(module_path!(), file!(), line!()),
};

pub(crate) const HEALTH_EVENT: EventDef = EventDef {
    name: Health::NAME,
    type_name: "beeflow_core::builtin::Health",
    schema: |generator| generator.subschema_for::<Health>(),
    location: Location::here(module_path!(), file!(), line!()),
};

pub(crate) const WEBSOCKET_RECIPIENT: RecipientDef = RecipientDef {
    name: WEBSOCKET,
    resolve: recipient::resolve_websocket,
    location: Location::here(module_path!(), file!(), line!()),
};

pub(crate) const USER_RECIPIENT: RecipientDef = RecipientDef {
    name: USER,
    resolve: recipient::resolve_user,
    location: Location::here(module_path!(), file!(), line!()),
};

pub(crate) const GROUP_RECIPIENT: RecipientDef = RecipientDef {
    name: GROUP,
    resolve: recipient::resolve_group,
    location: Location::here(module_path!(), file!(), line!()),
};

inventory::submit!(HEALTH_ACTION);
inventory::submit!(USER_RECIPIENT);
inventory::submit!(GROUP_RECIPIENT);
inventory::submit!(HEALTH_EVENT);
inventory::submit!(WEBSOCKET_RECIPIENT);
