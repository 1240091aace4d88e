//! Without `register = false` the action is in the global registry; with it, it is not.

use beeflow_core::{Registry, action};

#[action(name = "global")]
async fn global() {}

#[action(name = "local", register = false)]
async fn local() {}

#[action(name = "explicit", register = true)]
async fn explicit() {}

fn main() {
    let registry = Registry::global().unwrap();
    assert!(registry.action("global").is_some());
    assert!(registry.action("explicit").is_some());
    assert!(registry.action("local").is_none());
    let def = registry.action("global").unwrap();
    assert!(def.location.file.ends_with("registration.rs"), "{}", def.location);
    assert_eq!(def.location.line, 6);
    let _ = Registry::builder().action::<local>();
}
