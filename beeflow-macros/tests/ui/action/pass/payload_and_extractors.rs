use beeflow_core::{ActionContext, Event, Identity, State, action};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, schemars::JsonSchema)]
struct EchoPayload {
    text: String,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "echoed", register = false)]
struct Echoed {
    text: String,
}

#[derive(Clone)]
struct Db;

#[derive(Clone)]
struct User;

/// Echoes the text back.
#[action(name = "echo")]
async fn echo(
    payload: EchoPayload,
    cx: ActionContext,
    State(_db): State<Db>,
    _user: Option<Identity<User>>,
) -> Echoed {
    let _ = cx.req_id();
    Echoed { text: payload.text }
}

fn main() {
    let registry = beeflow_core::Registry::builder().action::<echo>().build().unwrap();
    assert!(registry.action("echo").is_some());
}
