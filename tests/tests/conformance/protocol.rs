//! `docs/protocol.md` over a real socket: envelopes, events, problems, control frames.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use uuid::Uuid;

use crate::adapters::Adapter;
use crate::support::{envelope, envelope_with};

pub(crate) async fn health_over_a_real_socket(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
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

pub(crate) async fn pipelined_requests_are_answered_in_order(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
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

pub(crate) async fn invalid_messages_get_problems_and_the_connection_stays_open(
    adapter: &dyn Adapter,
) {
    let server = adapter.quickstart(Some("https://example.com/problems/websocket/"));
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

pub(crate) async fn unknown_action_problem_is_exact(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
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

pub(crate) async fn instance_is_the_path_without_the_query(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut client = server.connect_with("/ws/?lang=en&x=1", None).await;
    assert_eq!(client.request("nope", json!({})).await["instance"], "/ws/");
}

pub(crate) async fn deep_and_huge_payloads_keep_the_connection(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
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

pub(crate) async fn typed_payloads_streams_and_handler_errors(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
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

pub(crate) async fn pings_get_pongs(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut client = server.connect().await;
    client
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await;
    match client.next_message().await {
        Some(Message::Pong(data)) => assert_eq!(&data[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // An unsolicited pong is ignored.
    client
        .send(Message::Pong(b"unsolicited".to_vec().into()))
        .await;
    assert_eq!(client.request("health", json!({})).await["seq"], 1);
}

pub(crate) async fn a_client_close_is_answered_with_a_close(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut client = server.connect().await;
    assert_eq!(client.request("health", json!({})).await["event"], "health");
    client
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await;
    assert_eq!(client.close_code().await, 1000);
}

pub(crate) async fn fragmented_messages_are_reassembled(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut client = server.connect().await;
    let req_id = Uuid::new_v4();
    let text = envelope_with("echo", json!({"text": "in pieces"}), req_id);
    let (first, rest) = text.as_bytes().split_at(text.len() / 2);
    let (second, third) = rest.split_at(rest.len() / 2);
    for (data, opcode, fin) in [
        (first, Data::Text, false),
        (second, Data::Continue, false),
        (third, Data::Continue, true),
    ] {
        let frame = Frame::message(data.to_vec(), OpCode::Data(opcode), fin);
        client.send(Message::Frame(frame)).await;
    }
    let echoed = client.recv().await;
    assert_eq!(echoed["req_id"], req_id.to_string());
    assert_eq!(echoed["payload"]["text"], "in pieces");
}

pub(crate) async fn invalid_utf8_in_a_text_frame_closes_with_1007(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut client = server.connect().await;
    let frame = Frame::message(vec![0xc3, 0x28], OpCode::Data(Data::Text), true);
    client.send(Message::Frame(frame)).await;
    assert_eq!(client.close_code().await, 1007);
}

pub(crate) async fn invalid_utf8_across_fragments_closes_with_1007(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut client = server.connect().await;
    // Each fragment alone could be a prefix of valid UTF-8; the whole message is not.
    let first = Frame::message(b"{\"a\": \"\xc3".to_vec(), OpCode::Data(Data::Text), false);
    let last = Frame::message(b"(\"}".to_vec(), OpCode::Data(Data::Continue), true);
    client.send(Message::Frame(first)).await;
    client.send(Message::Frame(last)).await;
    assert_eq!(client.close_code().await, 1007);
}
