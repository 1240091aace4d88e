//! Names starting with `beeflow.` belong to the protocol's built-ins.

use beeflow_core::action;

#[action(name = "beeflow.subscribe")]
async fn subscribe() {}

fn main() {}
