//! Frames a real session sends, to check the schemas against the implementation.

use beeflow_core::testing::TestClient;
use serde_json::{Value, json};

/// Every kind of frame the quickstart's actions produce: each event, a handler error, an
/// invalid payload, an unknown action and an invalid message.
pub(crate) async fn quickstart_frames() -> Vec<Value> {
    let dispatcher =
        example_demo_actions::dispatcher(Some("https://example.com/problems/websocket")).unwrap();
    let mut client = TestClient::connect(&dispatcher);
    let mut frames = Vec::new();
    frames.extend(client.send("health", json!({})).await);
    frames.extend(client.send("echo", json!({"text": "hi"})).await);
    frames.extend(client.send("countdown", json!({"from": 1})).await);
    frames.extend(client.send("whoami", json!({})).await);
    frames.extend(client.send("fail", json!({})).await);
    frames.extend(client.send("echo", json!({"text": 5})).await);
    frames.extend(client.send("MissingAction", json!({})).await);
    frames.extend(client.send_text("not json").await);
    assert_eq!(frames.len(), 9, "{frames:#?}");
    frames
}

/// The AsyncAPI message key a frame belongs to.
pub(crate) fn message_key(frame: &Value) -> String {
    match frame["event"].as_str() {
        Some(event) => format!("event.{event}"),
        None => "problem".to_owned(),
    }
}
