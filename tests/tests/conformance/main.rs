//! End-to-end conformance: PROTOCOL.md over real sockets, a real WebSocket client on
//! 127.0.0.1 against the real quickstart server.

mod auth;
mod limits;
mod support;

use serde_json::{Value, json};
use support::{envelope, envelope_with, quickstart};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use uuid::Uuid;

#[tokio::test]
async fn health_over_a_real_socket() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let req_id = Uuid::new_v4();
    client
        .send_text(&envelope_with("health", json!({}), req_id))
        .await;
    let event = client.recv().await;
    assert_eq!(event["event"], "health");
    assert_eq!(event["req_id"], req_id.to_string());
    assert_eq!(event["seq"], 1);
    assert_eq!(event["recipient"], "websocket");
    assert!(!event["recipient_id"].as_str().unwrap().is_empty());
    assert_eq!(event["payload"], json!({"status": "ok"}));
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let req_ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    for req_id in &req_ids {
        client
            .send_text(&envelope_with("health", json!({}), *req_id))
            .await;
    }
    for (n, req_id) in req_ids.iter().enumerate() {
        let event = client.recv().await;
        assert_eq!(event["req_id"], req_id.to_string());
        assert_eq!(event["seq"], n + 1);
    }
}

#[tokio::test]
async fn invalid_messages_get_problems_and_the_connection_stays_open() {
    let server = quickstart(Some("https://example.com/problems/websocket/")).await;
    let mut client = server.connect().await;
    let req_id = Uuid::new_v4();
    let cases = [
        ("not json".to_owned(), None),
        ("".to_owned(), None),
        ("[1,2]".to_owned(), None),
        (
            json!({"req_id": req_id, "action": "health"}).to_string(),
            Some(req_id),
        ),
        (
            json!({"msg_id": "x", "req_id": req_id, "action": "health", "payload": {}}).to_string(),
            Some(req_id),
        ),
    ];
    for (text, expected_req_id) in cases {
        client.send_text(&text).await;
        let problem = client.recv().await;
        assert_eq!(problem["code"], "invalid_websocket_message", "{text}");
        assert_eq!(
            problem["type"],
            "https://example.com/problems/websocket/invalid-message"
        );
        assert_eq!(problem["instance"], "/ws/");
        assert!(problem.get("seq").is_none());
        match expected_req_id {
            Some(id) => assert_eq!(problem["req_id"], id.to_string()),
            None => assert!(problem.get("req_id").is_none()),
        }
    }
    client.send(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(client.recv().await["code"], "invalid_websocket_message");
    // Problems consumed no seq.
    assert_eq!(client.request("health", json!({})).await["seq"], 1);
}

#[tokio::test]
async fn unknown_action_problem_is_exact() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let problem = client.request(" \u{2003}MissingAction\n", json!({})).await;
    let expected = [
        ("type", json!("about:blank")),
        ("title", json!("Unknown WebSocket action")),
        ("status", json!(400)),
        (
            "detail",
            json!("No WebSocket action is registered under 'MissingAction'."),
        ),
        ("code", json!("unknown_websocket_action")),
        ("instance", json!("/ws/")),
    ];
    for (key, value) in expected {
        assert_eq!(problem[key], value, "{key}");
    }
}

#[tokio::test]
async fn instance_is_the_path_without_the_query() {
    let server = quickstart(None).await;
    let mut client = server.connect_with("/ws/?lang=en&x=1", None).await;
    assert_eq!(client.request("nope", json!({})).await["instance"], "/ws/");
}

#[tokio::test]
async fn deep_and_huge_payloads_keep_the_connection() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let deep: Value = (0..499).fold(json!({}), |inner, _| json!({ "a": inner }));
    assert_eq!(client.request("health", deep).await["event"], "health");
    let too_deep = format!(
        r#"{{"msg_id":"{}","req_id":"{}","action":"health","payload":{}{}}}"#,
        Uuid::new_v4(),
        Uuid::new_v4(),
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    client.send_text(&too_deep).await;
    assert_eq!(client.recv().await["code"], "invalid_websocket_message");
    let huge = format!(
        r#"{{"msg_id":"{}","req_id":"{}","action":"health","payload":{{"n":{}}}}}"#,
        Uuid::new_v4(),
        Uuid::new_v4(),
        "7".repeat(20_000)
    );
    client.send_text(&huge).await;
    assert_eq!(client.recv().await["event"], "health");
}

#[tokio::test]
async fn typed_payloads_streams_and_handler_errors() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let echoed = client.request("echo", json!({"text": "hi"})).await;
    assert_eq!(
        (echoed["event"].clone(), echoed["payload"].clone()),
        (json!("echo"), json!({"text": "hi"}))
    );

    let mismatch = client.request("echo", json!({"text": 5})).await;
    assert_eq!(mismatch["status"], 422);
    assert_eq!(mismatch["code"], "invalid_action_payload");
    assert!(
        mismatch["detail"].as_str().unwrap().contains("'text'"),
        "{mismatch}"
    );

    let refused = client.request("echo", json!({"text": ""})).await;
    assert_eq!(refused["code"], "invalid_echo_text");

    client
        .send_text(&envelope("countdown", json!({"from": 3})))
        .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let tick = client.recv().await;
        seen.push((tick["seq"].clone(), tick["payload"]["remaining"].clone()));
    }
    assert_eq!(
        seen,
        [
            (json!(2), json!(3)),
            (json!(3), json!(2)),
            (json!(4), json!(1)),
            (json!(5), json!(0))
        ]
    );

    let failed = client.request("fail", json!({})).await;
    assert_eq!(
        (failed["status"].clone(), failed["code"].clone()),
        (json!(503), json!("demo_unavailable"))
    );
    // Only events consumed a seq: echo 1, countdown 2..=5.
    assert_eq!(client.request("health", json!({})).await["seq"], 6);
}

#[tokio::test]
async fn pings_get_pongs() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    client
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await;
    match client.next_message().await {
        Some(Message::Pong(data)) => assert_eq!(&data[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let frame = Frame::message(vec![0xc3, 0x28], OpCode::Data(Data::Text), true);
    client.send(Message::Frame(frame)).await;
    assert_eq!(client.close_code().await, 1007);
}
