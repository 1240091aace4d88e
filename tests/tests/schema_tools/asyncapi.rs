//! The quickstart's AsyncAPI document, validated by `@asyncapi/parser`; its examples and real
//! frames checked against its message payloads by Ajv.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::frames::{message_key, quickstart_frames};
use crate::support::{errors, quickstart_schema, scratch, validate_asyncapi};

fn client_envelope(action: &str, payload: Value) -> Value {
    json!({
        "msg_id": Uuid::new_v4(),
        "req_id": Uuid::new_v4().simple().to_string(),
        "action": action,
        "payload": payload,
    })
}

#[tokio::test]
async fn quickstart_document_validates_with_the_asyncapi_parser() {
    let document = quickstart_schema(&["asyncapi"]);
    let parsed: Value = serde_json::from_str(&document).unwrap();
    assert_eq!(parsed["asyncapi"], "3.0.0");
    let messages = parsed["components"]["messages"].as_object().unwrap();
    for key in [
        "action.countdown",
        "action.echo",
        "action.fail",
        "action.health",
        "action.whoami",
        "event.countdown",
        "event.echo",
        "event.health",
        "event.whoami",
        "problem",
    ] {
        assert!(messages.contains_key(key), "{key} missing");
    }
    assert_eq!(
        messages["action.echo"]["description"],
        "Sends the text back; it must have 1 to 280 characters."
    );

    // Real frames are valid messages; envelopes a client sends are valid actions, and ones
    // with a wrong payload are not.
    let frames = quickstart_frames().await;
    let mut samples: Vec<(Value, bool)> = frames
        .iter()
        .map(|frame| {
            (
                json!({"message": message_key(frame), "payload": frame}),
                true,
            )
        })
        .collect();
    let valid_actions = [
        ("health", json!({})),
        ("echo", json!({"text": "hi"})),
        ("countdown", json!({"from": 3})),
        ("fail", json!({})),
        ("whoami", json!({})),
    ];
    for (action, payload) in valid_actions {
        let envelope = client_envelope(action, payload);
        samples.push((
            json!({"message": format!("action.{action}"), "payload": envelope}),
            true,
        ));
    }
    let invalid = [
        ("action.echo", client_envelope("echo", json!({"text": 5}))),
        (
            "action.countdown",
            client_envelope("countdown", json!({"from": 300})),
        ),
        (
            "action.echo",
            client_envelope("countdown", json!({"text": "hi"})),
        ),
        (
            "action.health",
            json!({"msg_id": "x", "req_id": Uuid::new_v4(), "action": "health", "payload": {}}),
        ),
        (
            "event.echo",
            json!({"msg_id": Uuid::new_v4(), "seq": 1, "event": "echo", "recipient": "websocket", "recipient_id": "a.1"}),
        ),
        (
            "problem",
            json!({"msg_id": Uuid::new_v4(), "type": "about:blank", "title": "t", "status": 200, "detail": "d", "code": "c", "instance": "/ws/"}),
        ),
    ];
    for (key, envelope) in invalid {
        samples.push((json!({"message": key, "payload": envelope}), false));
    }
    let list: Value = samples.iter().map(|(sample, _)| sample.clone()).collect();

    let (report, ok) = validate_asyncapi(&scratch("quickstart-asyncapi"), &document, &list);
    assert!(errors(&report).is_empty(), "{report:#}");
    assert!(ok, "{report:#}");
    let examples = report["examples"].as_array().unwrap();
    assert!(examples.len() >= 2, "{report:#}");
    assert!(examples.iter().all(|e| e["valid"] == true), "{report:#}");
    let results = report["messages"].as_array().unwrap();
    for ((sample, expected), result) in samples.iter().zip(results) {
        assert_eq!(result["valid"], *expected, "{sample:#}\n{result:#}");
    }
}

/// The checks really check: an operation AsyncAPI 3 does not know fails the parser, and an
/// example that does not match its payload schema fails Ajv.
#[test]
fn broken_documents_are_rejected() {
    let document: Value = serde_json::from_str(&quickstart_schema(&["asyncapi"])).unwrap();
    let dir = scratch("broken-asyncapi");

    let mut unknown_operation = document.clone();
    unknown_operation["operations"]["sendEvent"]["action"] = "publish".into();
    let (report, ok) = validate_asyncapi(&dir, &unknown_operation.to_string(), &json!([]));
    assert!(!ok);
    assert!(
        errors(&report)
            .iter()
            .any(|e| e["path"] == "operations/sendEvent/action"),
        "{report:#}"
    );

    let mut bad_example = document;
    bad_example["components"]["messages"]["problem"]["examples"][0]["payload"]["status"] =
        "500".into();
    let (report, ok) = validate_asyncapi(&dir, &bad_example.to_string(), &json!([]));
    assert!(!ok);
    assert!(errors(&report).is_empty(), "{report:#}");
    assert!(
        report["examples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["valid"] == false),
        "{report:#}"
    );
}
