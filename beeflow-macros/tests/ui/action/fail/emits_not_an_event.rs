//! `emits(...)` names event types: anything else is reported at the type.

use beeflow_core::{ActionContext, action};

struct Progress;

#[action(name = "work", emits(Progress))]
async fn work(_cx: ActionContext) {}

fn main() {}
