//! The `beeflow.v2.msgpack` encoding in memory: requests and their replies as MessagePack,
//! a fan-out to JSON and MessagePack connections alike, and broken binary frames.
#![cfg(feature = "msgpack")]

use beeflow_core::testing::TestClient;
use beeflow_core::transport::{Admission, Outgoing};
use beeflow_core::{Dispatcher, Event, Recipient, SubscriptionRequest};
use serde_json::{Value, json};

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "message", register = false)]
struct Message {
    text: String,
    n: i64,
}

fn dispatcher() -> Dispatcher {
    let registry = beeflow_core::Registry::builder()
        .event::<Message>()
        .build()
        .unwrap();
    Dispatcher::builder()
        .registry(registry)
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        .build()
        .unwrap()
}

fn envelope(action: &str, payload: Value) -> Vec<u8> {
    let envelope = json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "req_id": uuid::Uuid::new_v4().to_string(),
        "action": action,
        "payload": payload,
    });
    rmp_serde::to_vec_named(&envelope).unwrap()
}

/// The next frame, which must be binary, decoded by rmp-serde (not by beeflow's transcoder).
async fn binary(client: &mut TestClient) -> Value {
    match client.recv_frame().await {
        Some(Outgoing::Binary(bytes)) => rmp_serde::from_slice(&bytes).unwrap(),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_in_messagepack_is_answered_in_messagepack() {
    let dispatcher = dispatcher();
    let mut client = TestClient::admitted(&dispatcher, &Admission::guest().msgpack());
    client.handle_binary(&envelope("health", json!({}))).await;
    let event = binary(&mut client).await;
    assert_eq!(event["event"], "health");
    assert_eq!(event["payload"], json!({"status": "ok"}));
    assert_eq!(event["seq"], 1);
    let done = binary(&mut client).await;
    assert_eq!(done["done"], json!({"events": 1}));
    assert_eq!(done["req_id"], event["req_id"]);

    // Version 2's built-ins are there: this is version 2.
    client
        .handle_binary(&envelope("beeflow.subscribe", json!({"topic": "lobby"})))
        .await;
    assert_eq!(binary(&mut client).await["done"], json!({"events": 0}));
}

#[tokio::test]
async fn a_fan_out_reaches_json_and_messagepack_connections_with_the_same_frame() {
    let dispatcher = dispatcher();
    let mut packed = TestClient::admitted(&dispatcher, &Admission::guest().msgpack());
    let mut text = TestClient::admitted(&dispatcher, &Admission::guest().v2());
    packed
        .handle_binary(&envelope("beeflow.subscribe", json!({"topic": "lobby"})))
        .await;
    binary(&mut packed).await;
    text.send("beeflow.subscribe", json!({"topic": "lobby"}))
        .await;
    let sent = Message {
        text: "héllo ✓".into(),
        n: -7,
    };
    dispatcher
        .emit(Recipient::group("lobby"), &sent)
        .await
        .unwrap();
    let from_packed = binary(&mut packed).await;
    let from_text = match text.recv_frame().await {
        Some(Outgoing::Text(text)) => serde_json::from_str::<Value>(&text).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    };
    assert_eq!(from_packed, from_text);
    assert_eq!(from_packed["payload"], json!({"text": "héllo ✓", "n": -7}));
}

#[tokio::test]
async fn broken_binary_frames_get_a_problem_in_messagepack() {
    let dispatcher = dispatcher();
    let mut client = TestClient::admitted(&dispatcher, &Admission::guest().msgpack());
    for broken in [&[0xc1][..], &[0x81, 0xa1], b"{\"msg_id\":1}"] {
        client.handle_binary(broken).await;
        let problem = binary(&mut client).await;
        assert_eq!(problem["code"], "invalid_websocket_message", "{broken:?}");
        assert_eq!(problem["status"], 400);
    }
    // A valid MessagePack value that is not an envelope: the envelope's own rules.
    client
        .handle_binary(&rmp_serde::to_vec(&[1, 2]).unwrap())
        .await;
    assert_eq!(
        binary(&mut client).await["code"],
        "invalid_websocket_message"
    );
}
