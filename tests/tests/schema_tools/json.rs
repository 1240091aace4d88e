//! The quickstart's JSON Schema bundle, checked by Ajv (an independent validator) against
//! sample payloads, every UUID spelling, action names and real frames.

use beeflow_core::envelope::{parse_uuid, trim_action};
use serde_json::{Value, json};

use crate::frames::quickstart_frames;
use crate::support::{ajv, node, quickstart_schema};

const ACTIONS: &str = "#/properties/actions/properties/";
const EVENTS: &str = "#/properties/events/properties/";
const ACTION_ENVELOPE: &str = "#/properties/envelopes/properties/action";
const EVENT_ENVELOPE: &str = "#/properties/envelopes/properties/event";
const PROBLEM: &str = "#/properties/envelopes/properties/problem";

fn bundle() -> Value {
    serde_json::from_str(&quickstart_schema(&["json"])).unwrap()
}

/// Checks `(pointer, instance, expected)` cases in one Ajv run.
fn check(bundle: &Value, cases: Vec<(String, Value, bool)>) {
    let inputs: Vec<(String, Value)> = cases
        .iter()
        .map(|(pointer, data, _)| (pointer.clone(), data.clone()))
        .collect();
    let results = ajv(bundle, &inputs);
    for ((pointer, data, expected), valid) in cases.iter().zip(results) {
        assert_eq!(valid, *expected, "{pointer} against {data}");
    }
}

#[test]
fn sample_payloads_pass_and_fail_as_they_should() {
    let action = |name: &str, data: Value, valid| (format!("{ACTIONS}{name}"), data, valid);
    let event = |name: &str, data: Value, valid| (format!("{EVENTS}{name}"), data, valid);
    check(
        &bundle(),
        vec![
            action("health", json!({}), true),
            action("health", json!({"anything": [1]}), true),
            action("health", json!([]), false),
            action("echo", json!({"text": "hi"}), true),
            action("echo", json!({}), false),
            action("echo", json!({"text": 5}), false),
            action("countdown", json!({"from": 3}), true),
            action("countdown", json!({"from": 256}), false),
            action("countdown", json!({"from": -1}), false),
            action("countdown", json!({"from": 1.5}), false),
            action("whoami", json!({}), true),
            action("whoami", json!("guest"), false),
            event("health", json!({"status": "ok"}), true),
            event("health", json!({}), false),
            event("echo", json!({"text": "hi"}), true),
            event("echo", json!({"text": null}), false),
            event("countdown", json!({"remaining": 0}), true),
            event("countdown", json!({"remaining": "0"}), false),
            event("whoami", json!({"name": "guest"}), true),
            event("whoami", json!({}), false),
        ],
    );
}

/// The envelope schema accepts exactly the UUID spellings the server's parser accepts.
#[test]
fn uuid_spellings_match_the_envelope_parser() {
    let lower = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    let spellings = [
        lower.to_owned(),
        lower.to_uppercase(),
        lower.replace('-', ""),
        format!("{{{lower}}}"),
        format!("urn:uuid:{lower}"),
        format!("urn:uuid:{}", lower.to_uppercase()),
        "00000000-0000-0000-0000-000000000000".to_owned(),
        "ffffffff-ffff-ffff-ffff-ffffffffffff".to_owned(),
        format!("URN:UUID:{lower}"),
        format!("{{{}}}", lower.replace('-', "")),
        format!(" {lower}"),
        format!("{lower}\n"),
        "67e5504410b1-426f-9247-bb680e5fe0c8".to_owned(),
        "67e55044-10b1-426f-9247-bb680e5fe0cg".to_owned(),
        "67e55044-10b1-426f-9247-bb680e5fe0c８".to_owned(),
        String::new(),
    ];
    let mut cases = Vec::new();
    for spelling in &spellings {
        let expected = parse_uuid(spelling).is_some();
        for member in ["msg_id", "req_id"] {
            let mut envelope =
                json!({"msg_id": lower, "req_id": lower, "action": "echo", "payload": {}});
            envelope[member] = spelling.as_str().into();
            cases.push((ACTION_ENVELOPE.to_owned(), envelope, expected));
        }
    }
    assert!(cases.iter().any(|c| c.2) && cases.iter().any(|c| !c.2));
    check(&bundle(), cases);
}

/// The envelope schema accepts exactly the action names the server does not trim to empty.
#[test]
fn action_names_match_the_server_trimming() {
    let names = [
        "echo",
        " echo ",
        "",
        " ",
        "\t\n",
        "\u{85}",
        "\u{a0}\u{3000}",
        "\u{1c}\u{1f}",
        "\u{2000}\u{200a}",
        "\u{feff}",
        "\u{200b}",
        "x\u{1c}",
    ];
    let lower = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    let cases = names
        .iter()
        .map(|name| {
            let envelope = json!({"msg_id": lower, "req_id": lower, "action": name, "payload": {}});
            let expected = !trim_action(name).is_empty();
            (ACTION_ENVELOPE.to_owned(), envelope, expected)
        })
        .collect();
    check(&bundle(), cases);
}

/// Frames from a real session match the envelopes, and event payloads their event's schema;
/// broken frames do not.
#[tokio::test]
async fn real_frames_match_the_envelopes() {
    let mut cases = Vec::new();
    for frame in quickstart_frames().await {
        match frame["event"].as_str() {
            Some(event) => {
                cases.push((format!("{EVENTS}{event}"), frame["payload"].clone(), true));
                cases.push((EVENT_ENVELOPE.to_owned(), frame, true));
            }
            None => cases.push((PROBLEM.to_owned(), frame, true)),
        }
    }
    let frame = cases[1].1.clone();
    for (member, value) in [
        ("seq", json!(0)),
        ("msg_id", json!("67E55044-10B1-426F-9247-BB680E5FE0C8")),
        ("req_id", json!("{67e55044-10b1-426f-9247-bb680e5fe0c8}")),
        ("payload", json!("ok")),
    ] {
        let mut broken = frame.clone();
        broken[member] = value;
        cases.push((EVENT_ENVELOPE.to_owned(), broken, false));
    }
    let problem = cases.iter().find(|c| c.0 == PROBLEM).unwrap().1.clone();
    let mut broken = problem;
    broken.as_object_mut().unwrap().remove("code");
    cases.push((PROBLEM.to_owned(), broken, false));
    check(&bundle(), cases);
}

/// Ajv really checks the bundle: one that is not a valid JSON Schema is refused.
#[test]
fn an_invalid_bundle_is_refused() {
    let mut bundle = bundle();
    bundle["$defs"]["EchoRequest"]["required"] = json!("text");
    let input = json!({"schema": bundle, "cases": []});
    let output = node::<&str>("validate-json.mjs", &[], &input.to_string());
    assert!(!output.status.success());
}
