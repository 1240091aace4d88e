//! Payloads are checked against the JSON Schema their action publishes, before the handler
//! runs: a `#[schemars(...)]` rule is enforced where it is documented.

use beeflow_core::testing::TestClient;
use beeflow_core::{Dispatcher, Event, Registry, action};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize, schemars::JsonSchema)]
struct AddTask {
    #[schemars(length(min = 1, max = 100))]
    title: String,
    #[serde(default)]
    #[schemars(length(max = 3))]
    tags: Vec<Tag>,
    #[serde(default)]
    details: Option<Details>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Details {
    #[schemars(length(max = 10))]
    text: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Tag {
    #[schemars(regex(pattern = r"^[a-z]+$"))]
    name: String,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "task.added", register = false)]
struct TaskAdded {
    title: String,
    tags: Vec<String>,
    details: Option<String>,
}

#[action(name = "task.add", register = false)]
async fn add_task(payload: AddTask) -> TaskAdded {
    TaskAdded {
        title: payload.title,
        tags: payload.tags.into_iter().map(|tag| tag.name).collect(),
        details: payload.details.map(|details| details.text),
    }
}

/// A payload as deep as the envelope allows: validation must not overflow the stack.
#[derive(Deserialize, schemars::JsonSchema)]
struct Nested {
    #[serde(default)]
    child: Option<Box<Nested>>,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "depth", register = false)]
struct Depth {
    levels: u32,
}

#[action(name = "nest", register = false)]
async fn nest(payload: Nested) -> Depth {
    let mut levels = 1;
    let mut node = &payload;
    while let Some(child) = &node.child {
        levels += 1;
        node = child;
    }
    Depth { levels }
}

fn dispatcher(validate: bool) -> Dispatcher {
    let registry = Registry::builder()
        .action::<add_task>()
        .action::<nest>()
        .event::<TaskAdded>()
        .event::<Depth>()
        .build()
        .unwrap();
    Dispatcher::builder()
        .registry(registry)
        .validate_payloads(validate)
        .build()
        .unwrap()
}

async fn add(client: &mut TestClient, payload: Value) -> Value {
    let mut frames = client.send("task.add", payload).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames.remove(0)
}

#[tokio::test]
async fn a_payload_within_the_schema_reaches_the_handler() {
    let dispatcher = dispatcher(true);
    let mut client = TestClient::connect(&dispatcher);
    let title = "x".repeat(100);
    let reply = add(
        &mut client,
        json!({ "title": title, "tags": [{ "name": "home" }] }),
    )
    .await;
    assert_eq!(reply["event"], "task.added", "{reply}");
    assert_eq!(reply["payload"]["title"], title);
    assert_eq!(reply["payload"]["tags"], json!(["home"]));
}

#[tokio::test]
async fn a_payload_outside_the_schema_is_a_422_naming_the_path() {
    let dispatcher = dispatcher(true);
    let mut client = TestClient::connect(&dispatcher);
    for (payload, path) in [
        (json!({ "title": "" }), "'title'"),
        (json!({ "title": "x".repeat(101) }), "'title'"),
        (
            json!({ "title": "ok", "tags": [{ "name": "a" }, { "name": "b" }, { "name": "c" }, { "name": "d" }] }),
            "'tags'",
        ),
        (
            json!({ "title": "ok", "tags": [{ "name": "home" }, { "name": "Work!" }] }),
            "'tags.1.name'",
        ),
        (
            json!({ "title": "ok", "details": { "text": "longer than ten" } }),
            "'details.text'",
        ),
    ] {
        let reply = add(&mut client, payload.clone()).await;
        assert_eq!(reply["status"], 422, "{payload}: {reply}");
        assert_eq!(reply["code"], "invalid_action_payload", "{reply}");
        let detail = reply["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("The payload of action 'task.add' is invalid at "),
            "{detail}"
        );
        assert!(detail.contains(path), "{payload}: {detail}");
    }
}

#[tokio::test]
async fn a_type_error_is_still_named_by_its_path() {
    let dispatcher = dispatcher(true);
    let mut client = TestClient::connect(&dispatcher);
    let reply = add(&mut client, json!({ "title": 7 })).await;
    assert_eq!(reply["status"], 422, "{reply}");
    assert!(
        reply["detail"].as_str().unwrap().contains("'title'"),
        "{reply}"
    );
    let reply = add(&mut client, json!({})).await;
    assert_eq!(reply["status"], 422, "{reply}");
    assert!(
        reply["detail"].as_str().unwrap().contains("title"),
        "{reply}"
    );
}

#[tokio::test]
async fn switched_off_only_decoding_checks_the_payload() {
    let dispatcher = dispatcher(false);
    let mut client = TestClient::connect(&dispatcher);
    let reply = add(&mut client, json!({ "title": "" })).await;
    assert_eq!(reply["event"], "task.added", "{reply}");
}

#[tokio::test]
async fn a_payload_as_deep_as_the_envelope_allows_is_validated() {
    let dispatcher = dispatcher(true);
    let mut client = TestClient::connect(&dispatcher);
    // The envelope allows 1024 levels; the payload object is one of them.
    let levels = 1000;
    let payload = format!(
        "{}{}",
        r#"{"child":"#.repeat(levels - 1) + "{}",
        "}".repeat(levels - 1)
    );
    let frame = format!(
        r#"{{"msg_id":"{}","req_id":"{}","action":"nest","payload":{payload}}}"#,
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    let frames = client.send_text(&frame).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["payload"]["levels"], levels, "{:?}", frames[0]);
}
