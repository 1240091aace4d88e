//! A new action with a documented payload shows up in all three outputs with no other
//! change: this file only declares it, and the global registry of this test binary picks
//! it up.

use beeflow_core::schema::{AsyncApiInfo, Server, render};
use beeflow_core::{Event, Registry, action};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::support::{errors, scratch, type_check, typescript, validate_asyncapi};

/// How hard to probe the schema export.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(example = json!({"depth": 3, "label": "deep"}))]
pub(crate) struct ProbeRequest {
    /// Levels to descend, 1 to 9.
    depth: u8,
    /// An optional name for the probe.
    #[serde(default)]
    label: Option<String>,
}

/// What the probe found.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "schema_probed")]
pub(crate) struct Probed {
    /// The depth reached.
    reached: u8,
}

/// Probes the schema export; registered only in the schema tests.
#[action(name = "schema_probe")]
pub(crate) async fn schema_probe(payload: ProbeRequest) -> Probed {
    let _ = payload.label;
    Probed {
        reached: payload.depth,
    }
}

fn registry() -> Registry {
    // Link the demo actions too, as an application links its own crates.
    let _ = example_demo_actions::DEMO_TOKEN;
    Registry::global().unwrap()
}

#[test]
fn a_new_action_appears_in_the_bundle() {
    let bundle = registry().json_schema_bundle();
    let entry = &bundle["properties"]["actions"]["properties"]["schema_probe"];
    assert_eq!(
        entry["description"],
        "Probes the schema export; registered only in the schema tests."
    );
    assert_eq!(entry["allOf"][0]["$ref"], "#/$defs/ProbeRequest");
    let payload = &bundle["$defs"]["ProbeRequest"];
    assert_eq!(
        payload["description"],
        "How hard to probe the schema export."
    );
    assert_eq!(
        payload["properties"]["depth"]["description"],
        "Levels to descend, 1 to 9."
    );
    assert_eq!(payload["required"], json!(["depth"]));
    assert_eq!(
        bundle["properties"]["events"]["properties"]["schema_probed"],
        json!({"$ref": "#/$defs/Probed"})
    );
    assert_eq!(
        bundle["$defs"]["Probed"]["description"],
        "What the probe found."
    );
    // The demo actions are there as well: nothing was replaced.
    assert!(bundle["properties"]["actions"]["properties"]["echo"].is_object());
}

#[test]
fn a_new_action_appears_in_the_asyncapi_document() {
    let info = AsyncApiInfo::new("probe", "1.0.0").with_server("local", Server::ws("localhost"));
    let document = registry().asyncapi(&info);
    let messages = &document["components"]["messages"];
    let message = &messages["action.schema_probe"];
    assert_eq!(message["name"], "schema_probe");
    assert_eq!(
        message["description"],
        "Probes the schema export; registered only in the schema tests."
    );
    assert_eq!(
        message["payload"]["properties"]["payload"],
        json!({"$ref": "#/components/schemas/ProbeRequest"})
    );
    assert_eq!(
        message["examples"][0]["payload"]["payload"],
        json!({"depth": 3, "label": "deep"})
    );
    assert_eq!(
        messages["event.schema_probed"]["description"],
        "What the probe found."
    );
    let operation = &document["operations"]["action.schema_probe"];
    assert_eq!(
        operation["messages"],
        json!([{"$ref": "#/channels/websocket/messages/action.schema_probe"}])
    );
    assert_eq!(
        operation["reply"]["messages"],
        json!([
            {"$ref": "#/channels/websocket/messages/event.schema_probed"},
            {"$ref": "#/channels/websocket/messages/problem"},
        ]),
        "the event its return type names, and the problem message"
    );

    let (report, ok) =
        validate_asyncapi(&scratch("probe-asyncapi"), &render(&document), &json!([]));
    assert!(ok && errors(&report).is_empty(), "{report:#}");
    let examples = report["examples"].as_array().unwrap();
    assert!(
        examples
            .iter()
            .any(|e| e["message"] == "action.schema_probe" && e["valid"] == true),
        "{report:#}"
    );
}

#[test]
fn a_new_action_appears_in_the_typescript_types() {
    let types = typescript(&render(&registry().json_schema_bundle()));
    assert!(types.contains("  schema_probe: ProbeRequest;\n"), "{types}");
    assert!(types.contains("  schema_probed: Probed;\n"), "{types}");
    assert!(types.contains("export interface ProbeRequest {"), "{types}");
    assert!(
        types.contains("   * Levels to descend, 1 to 9.\n"),
        "{types}"
    );
    assert!(types.contains("  label?: string | null;\n"), "{types}");

    let dir = scratch("probe-typescript");
    std::fs::write(dir.join("beeflow.ts"), &types).unwrap();
    std::fs::write(
        dir.join("client.ts"),
        "import type { Actions, Events } from \"./beeflow\";\n\
         export const probe: Actions[\"schema_probe\"] = { depth: 3 };\n\
         export const probed: Events[\"schema_probed\"] = { reached: 3 };\n\
         // @ts-expect-error: `depth` is required\n\
         export const missing: Actions[\"schema_probe\"] = { label: \"x\" };\n",
    )
    .unwrap();
    let output = type_check(&dir, &["client.ts", "beeflow.ts"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The probe also runs: a schema that describes an action nobody can call would be a lie.
#[tokio::test]
async fn the_new_action_runs() {
    let dispatcher = beeflow_core::Dispatcher::builder()
        .registry(registry())
        .build()
        .unwrap();
    let mut client = beeflow_core::testing::TestClient::connect(&dispatcher);
    let frames: Vec<Value> = client.send("schema_probe", json!({"depth": 2})).await;
    assert_eq!(frames[0]["event"], "schema_probed");
    assert_eq!(frames[0]["payload"], json!({"reached": 2}));
}
