//! Global registration by default, none with `register = false`, and `crate = path`.

use beeflow_core::{ConnectionId, Registry};
use beeflow_core as bf;

#[bf::recipient(name = "room", crate = bf)]
async fn room(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

#[bf::recipient(name = "local", register = false)]
async fn local(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {
    let registry = Registry::global().unwrap();
    let def = registry.resolver("room").unwrap();
    assert_eq!(def.location.line, 7);
    assert!(registry.resolver("local").is_none());
    let _ = Registry::builder().resolver::<local>();
}
