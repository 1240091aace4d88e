//! A handler without parameters takes no payload: any object is accepted.

use beeflow_core::action;

/// Does nothing.
#[action(name = "noop", register = false)]
async fn noop() {}

fn main() {
    let registry = beeflow_core::Registry::builder().action::<noop>().build().unwrap();
    let def = registry.action("noop").unwrap();
    assert_eq!(def.payload_type, "object");
    assert_eq!(def.description, "Does nothing.");
    let mut generator = schemars::SchemaGenerator::default();
    let schema = (def.payload_schema)(&mut generator);
    assert_eq!(schema.as_value(), &serde_json::json!({ "type": "object" }));
}
