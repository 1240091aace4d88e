//! `register = false` keeps the event out of the global registry; an explicit registry
//! takes it.

use beeflow_core::{Event, Registry};

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "local", register = false)]
struct Local {
    n: u8,
}

fn main() {
    assert!(Registry::global().unwrap().event("local").is_none());
    let registry = Registry::builder().event::<Local>().build().unwrap();
    assert!(registry.event("local").is_some());
}
