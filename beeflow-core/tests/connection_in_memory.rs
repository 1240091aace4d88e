//! A connection's wire behaviour (`docs/protocol.md`), driven through the in-memory test client.

use beeflow_core::testing::TestClient;
use beeflow_core::{
    ActionContext, Dispatcher, Emit, Event, EventStream, Problem, Recipient, Registry, action,
};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Deserialize, schemars::JsonSchema)]
struct Nothing {}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "step", register = false)]
struct Step {
    n: u32,
}

#[action(name = "boom", register = false)]
async fn boom(_payload: Nothing) -> Step {
    panic!("handler bug");
}

#[action(name = "boom_later", register = false)]
async fn boom_later(_payload: Nothing) -> EventStream {
    EventStream::new(stream::iter(0..3).map(|n| {
        assert!(n < 2, "stream bug");
        Step { n }
    }))
}

#[action(name = "steps", register = false)]
async fn steps(_payload: Nothing) -> EventStream {
    EventStream::new(stream::iter(1..=3).map(|n| Step { n }))
}

#[action(name = "stray", register = false)]
async fn stray(_payload: Nothing) -> Result<Emit, Problem> {
    Emit::to(Recipient::new("nobody", "x"), &Step { n: 1 })
}

#[action(name = "emit_then_fail", register = false)]
async fn emit_then_fail(_payload: Nothing, cx: ActionContext) -> Result<(), Problem> {
    cx.emit(Recipient::connection(cx.connection_id()), &Step { n: 1 })
        .await?;
    Err(Problem::new(409, "conflict", "conflict", "Conflict").with_detail("Try later."))
}

use futures_util::StreamExt as _;

fn dispatcher(base: Option<&str>) -> Dispatcher {
    let registry = Registry::builder()
        .action::<boom>()
        .action::<boom_later>()
        .action::<steps>()
        .action::<stray>()
        .action::<emit_then_fail>()
        .event::<Step>()
        .build()
        .unwrap();
    let builder = Dispatcher::builder().registry(registry);
    match base {
        Some(base) => builder.problem_type_base(base),
        None => builder,
    }
    .build()
    .unwrap()
}

fn client() -> TestClient {
    TestClient::connect(&dispatcher(None))
}

fn envelope(action: &str, payload: Value) -> String {
    json!({"msg_id": Uuid::new_v4(), "req_id": Uuid::new_v4(), "action": action, "payload": payload})
        .to_string()
}

fn assert_invalid(frames: &[Value], req_id: Option<&str>) {
    assert_eq!(frames.len(), 1, "{frames:?}");
    let problem = &frames[0];
    assert_eq!(problem["code"], "invalid_websocket_message", "{problem}");
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["instance"], "/ws/");
    assert!(problem.get("seq").is_none(), "problems carry no seq");
    match req_id {
        Some(id) => assert_eq!(problem["req_id"], id),
        None => assert!(problem.get("req_id").is_none(), "{problem}"),
    }
}

#[tokio::test]
async fn health_reply_has_the_protocol_shape() {
    let mut client = client();
    let req_id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    let text =
        json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": "health", "payload": {}});
    let frames = client.send_text(&text.to_string()).await;
    assert_eq!(frames.len(), 1);
    let event = frames[0].as_object().unwrap();
    let keys: Vec<&str> = event.keys().map(String::as_str).collect();
    let mut expected = [
        "msg_id",
        "req_id",
        "seq",
        "event",
        "recipient",
        "recipient_id",
        "payload",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(event["req_id"], "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    assert_eq!(event["seq"], 1);
    assert_eq!(event["event"], "health");
    assert_eq!(event["recipient"], "websocket");
    assert_eq!(event["recipient_id"], client.connection_id().as_str());
    assert_eq!(event["payload"], json!({"status": "ok"}));
    let msg_id = Uuid::parse_str(event["msg_id"].as_str().unwrap()).unwrap();
    assert_eq!(msg_id.get_version_num(), 4);
}

#[tokio::test]
async fn simple_uuid_req_id_is_echoed_hyphenated() {
    let mut client = client();
    let text = json!({"msg_id": Uuid::new_v4(), "req_id": "6F9619FF8B86D011B42D00C04FC964FF", "action": "health", "payload": {"ignored": [1, 2]}});
    let frames = client.send_text(&text.to_string()).await;
    assert_eq!(frames[0]["req_id"], "6f9619ff-8b86-d011-b42d-00c04fc964ff");
}

#[tokio::test]
async fn seq_is_per_connection_and_skips_problems() {
    let dispatcher = dispatcher(None);
    let mut a = TestClient::connect(&dispatcher);
    let mut b = TestClient::connect(&dispatcher);
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.extend(a.send("health", json!({})).await);
        seqs.extend(a.send_text("not json").await);
    }
    let seqs: Vec<Value> = seqs.iter().map(|f| f["seq"].clone()).collect();
    assert_eq!(
        seqs,
        [
            json!(1),
            Value::Null,
            json!(2),
            Value::Null,
            json!(3),
            Value::Null
        ]
    );
    assert_eq!(b.send("health", json!({})).await[0]["seq"], 1);
}

#[tokio::test]
async fn garbage_gets_a_problem_and_the_session_survives() {
    let mut client = client();
    for garbage in [
        "",
        " ",
        "{",
        "[]",
        "\"health\"",
        "null",
        "{\"a\":1}x",
        "\u{0}",
    ] {
        assert_invalid(&client.send_text(garbage).await, None);
    }
    assert_invalid(&client.send_binary(&[0xff, 0x00, 0x12]).await, None);
    assert_eq!(client.send("health", json!({})).await[0]["seq"], 1);
}

#[tokio::test]
async fn req_id_is_reported_even_when_the_rest_is_invalid() {
    let mut client = client();
    let req_id = "0b5e6f1c-1d2a-4c3b-9e8f-7a6b5c4d3e2f";
    let bad = [
        json!({"req_id": req_id}),
        json!({"msg_id": "nope", "req_id": req_id, "action": "health", "payload": {}}),
        json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": "  ", "payload": {}}),
        json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": 7, "payload": {}}),
        json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": "health", "payload": []}),
    ];
    for message in bad {
        assert_invalid(&client.send_text(&message.to_string()).await, Some(req_id));
    }
    let binary = json!({"req_id": req_id}).to_string();
    assert_invalid(&client.send_binary(binary.as_bytes()).await, Some(req_id));
    let no_uuid = json!({"msg_id": Uuid::new_v4(), "req_id": " 0b5e6f1c-1d2a-4c3b-9e8f-7a6b5c4d3e2f", "action": "health", "payload": {}});
    assert_invalid(&client.send_text(&no_uuid.to_string()).await, None);
}

#[tokio::test]
async fn unknown_action_names_the_trimmed_action() {
    let mut client =
        TestClient::connect(&dispatcher(Some("https://example.com/problems/websocket/")));
    let frames = client
        .send_text(&envelope("\u{3000} MissingAction\t", json!({})))
        .await;
    let problem = &frames[0];
    assert_eq!(problem["code"], "unknown_websocket_action");
    assert_eq!(problem["title"], "Unknown WebSocket action");
    assert_eq!(
        problem["detail"],
        "No WebSocket action is registered under 'MissingAction'."
    );
    assert_eq!(
        problem["type"],
        "https://example.com/problems/websocket/unknown-action"
    );
    assert_eq!(
        client.send("Health", json!({})).await[0]["code"],
        "unknown_websocket_action"
    );
    assert_eq!(
        client.send("\u{1f}health\u{85}", json!({})).await[0]["event"],
        "health"
    );
}

#[tokio::test]
async fn deep_and_huge_payloads_do_not_crash() {
    let mut client = client();
    let deep = format!("{}{}", "[".repeat(499), "]".repeat(499));
    let text = format!(
        r#"{{"msg_id":"{}","req_id":"{}","action":"health","payload":{{"a":{deep}}}}}"#,
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    assert_eq!(client.send_text(&text).await[0]["event"], "health");
    let too_deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = format!(
        r#"{{"msg_id":"{}","req_id":"{}","action":"health","payload":{{"a":{too_deep}}}}}"#,
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    assert_invalid(&client.send_text(&text).await, None);
    let huge = format!(
        r#"{{"msg_id":"{}","req_id":"{}","action":"health","payload":{{"n":{}, "f": 1e400}}}}"#,
        Uuid::new_v4(),
        Uuid::new_v4(),
        "9".repeat(5000)
    );
    assert_eq!(client.send_text(&huge).await[0]["event"], "health");
}

#[tokio::test]
async fn extra_members_are_ignored_and_do_not_leak() {
    let mut client = client();
    let text = json!({"msg_id": Uuid::new_v4(), "req_id": Uuid::new_v4(), "action": "health", "payload": {}, "secret": "s3cr3t", "seq": 99});
    let frames = client.send_text(&text.to_string()).await;
    assert_eq!(frames[0]["seq"], 1);
    assert!(!frames[0].to_string().contains("s3cr3t"));
}

#[tokio::test]
async fn a_panicking_handler_yields_500_and_the_session_survives() {
    let mut client = client();
    let req_id = Uuid::new_v4();
    let frames = client.send_with_req_id("boom", json!({}), req_id).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["status"], 500);
    assert_eq!(frames[0]["code"], "action_panicked");
    assert_eq!(frames[0]["req_id"], req_id.to_string());
    assert!(
        !frames[0].to_string().contains("handler bug"),
        "no internals leak"
    );
    assert_eq!(client.send("health", json!({})).await[0]["event"], "health");
}

#[tokio::test]
async fn a_stream_that_panics_midway_keeps_what_it_sent() {
    let mut client = client();
    let frames = client.send("boom_later", json!({})).await;
    let codes: Vec<Value> = frames.iter().map(|f| f["code"].clone()).collect();
    assert_eq!(frames[0]["payload"]["n"], 0);
    assert_eq!(frames[1]["payload"]["n"], 1);
    assert_eq!(codes[2], "action_panicked");
    assert_eq!(client.send("health", json!({})).await[0]["seq"], 3);
}

#[tokio::test]
async fn stream_events_arrive_in_order() {
    let mut client = client();
    let frames = client.send("steps", json!({})).await;
    let got: Vec<(Value, Value)> = frames
        .iter()
        .map(|f| (f["seq"].clone(), f["payload"]["n"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!(1), json!(1)),
            (json!(2), json!(2)),
            (json!(3), json!(3))
        ]
    );
}

#[tokio::test]
async fn unknown_recipient_type_is_a_500_problem() {
    let mut client = client();
    let frames = client.send("stray", json!({})).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["status"], 500);
    assert_eq!(frames[0]["code"], "unknown_recipient_type");
    assert!(frames[0]["detail"].as_str().unwrap().contains("'nobody'"));
}

#[tokio::test]
async fn handler_error_keeps_its_status_and_earlier_events() {
    let mut client = client();
    let frames = client.send("emit_then_fail", json!({})).await;
    assert_eq!(frames[0]["event"], "step");
    assert_eq!(frames[1]["status"], 409);
    assert_eq!(frames[1]["code"], "conflict");
    assert_eq!(frames[1]["type"], "about:blank");
}

#[tokio::test]
async fn push_from_outside_a_request_has_no_req_id() {
    let dispatcher = dispatcher(None);
    let mut client = TestClient::connect(&dispatcher);
    let report = dispatcher
        .emit(
            Recipient::connection(client.connection_id()),
            &Step { n: 9 },
        )
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    let frame = client.recv().await;
    assert!(frame.get("req_id").is_none(), "{frame}");
    assert_eq!(frame["seq"], 1);
    drop(client);
    let report = dispatcher
        .emit(Recipient::new("websocket", "gone.1"), &Step { n: 9 })
        .await
        .unwrap();
    assert_eq!((report.delivered, report.not_connected), (0, 1));
    assert_eq!(dispatcher.stats().connections, 0);
}
