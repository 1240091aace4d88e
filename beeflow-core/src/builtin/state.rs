//! The built-ins of synced state (feature `sync`, `docs/protocol.md` §6.6): action
//! `beeflow.state.get` and events `beeflow.state.patch` and `beeflow.state.snapshot`.

use serde::Deserialize;

use crate::action::{ActionDef, HandlerFuture, IntoEvents, Replies, decode_payload};
use crate::context::ActionContext;
use crate::event::{Event, EventDef};
use crate::location::Location;
use crate::problem::Problem;
use crate::recipient::Recipient;
use crate::sync_store::{StatePatch, StateSnapshot};

/// The payload of `beeflow.state.get`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BeeflowStateGet")]
struct StateGet {
    /// The state's key.
    key: String,
    /// The version the client holds: when it is the latest, no snapshot is sent.
    #[serde(default)]
    version: Option<u64>,
}

fn get(cx: ActionContext, payload: &str) -> Result<HandlerFuture, Problem> {
    let request: StateGet = decode_payload(GET.name, payload)?;
    let cell = cx
        .runtime
        .sync_store()
        .get(&request.key)
        .ok_or_else(|| Problem::state_not_found(&request.key))?;
    Ok(Box::pin(async move {
        let runtime = cx.runtime.clone();
        if !runtime
            .reaches(cell.to.clone(), cx.connection.clone())
            .await?
        {
            return Err(Problem::state_denied(&request.key));
        }
        // Sent with the lock held: no patch can be published between the snapshot's
        // version and its arrival.
        let published = cell.published.lock().await;
        if request.version != Some(published.version) {
            let snapshot = StateSnapshot {
                key: cell.key.to_string(),
                version: published.version,
                state: published.text.clone(),
            };
            cx.emit(Recipient::connection(cx.connection_id()), &snapshot)
                .await?;
        }
        ().into_events()
    }))
}

fn get_replies() -> Replies {
    let mut replies = Replies::default();
    replies.event(StateSnapshot::NAME);
    replies.problems(&["state_not_found", "state_denied"]);
    replies
}

pub(crate) const GET: ActionDef = ActionDef::new(
    "beeflow.state.get",
    get,
    "StateGet",
    |generator| generator.subschema_for::<StateGet>(),
    "Version 2: sends the synced state under `key` as event `beeflow.state.snapshot`, \
     unless `version` is already its latest. Only to connections its events reach.",
    Location::new(module_path!(), file!(), line!()),
)
.with_replies(get_replies);

pub(crate) const PATCH_EVENT: EventDef = EventDef::new(
    StatePatch::NAME,
    "beeflow_core::StatePatch",
    |generator| generator.subschema_for::<StatePatch>(),
    Location::new(module_path!(), file!(), line!()),
);

pub(crate) const SNAPSHOT_EVENT: EventDef = EventDef::new(
    StateSnapshot::NAME,
    "beeflow_core::StateSnapshot",
    |generator| generator.subschema_for::<StateSnapshot>(),
    Location::new(module_path!(), file!(), line!()),
);

inventory::submit!(GET);
inventory::submit!(PATCH_EVENT);
inventory::submit!(SNAPSHOT_EVENT);
