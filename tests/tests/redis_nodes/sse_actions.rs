//! An action POSTed to one node's SSE route for a stream held by another node, carried
//! through Redis.

use std::net::SocketAddr;

use beeflow_core::Dispatcher;
use beeflow_core::broker::{RedisBroker, Topic};
use beeflow_tests::http;
use beeflow_tests::sse::SseClient;
use serde_json::json;

use super::{Deployment, ready};

async fn chat_node(redis: &impl Deployment) -> (SocketAddr, RedisBroker, Dispatcher) {
    let broker = redis.broker();
    let dispatcher = example_chat::dispatcher()
        .broker(broker.clone())
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = example_chat::app(dispatcher.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, broker, dispatcher)
}

pub(super) async fn an_sse_action_posted_to_one_node_reaches_a_stream_on_another(
    redis: &impl Deployment,
) {
    let (a, broker_a, _node_a) = chat_node(redis).await;
    let (b, broker_b, node_b) = chat_node(redis).await;
    ready(&broker_a, &[]).await;
    ready(&broker_b, &[Topic::Node(node_b.node_id().into())]).await;

    let mut stream = SseClient::open(b, "/sse/", &["Authorization: Bearer ann"]).await;
    assert_eq!(stream.status, 200);
    let session = stream.next_event().await.unwrap().json()["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let envelope = json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "req_id": uuid::Uuid::new_v4().to_string(),
        "action": "whisper",
        "payload": {"to": "ann", "text": "posted to a"},
    })
    .to_string();
    let request = format!(
        "POST /sse/ HTTP/1.1\r\nHost: {a}\r\nAuthorization: Bearer ann\r\n\
         Beeflow-Session: {session}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{envelope}",
        envelope.len()
    );
    let response = http::send(a, &request).await;
    assert_eq!(response.status, 202, "{}", response.body);
    let whisper = loop {
        let frame = stream.next_event().await.unwrap().json();
        if frame["event"] == "whisper" {
            break frame;
        }
    };
    assert_eq!(
        whisper["payload"],
        json!({"from": "ann", "text": "posted to a"})
    );

    // Posted by someone else, the action is dropped on b: nothing but the completion of
    // ann's own next request follows.
    let stolen = request.replace("Bearer ann", "Bearer eve");
    assert_eq!(http::send(a, &stolen).await.status, 202);
    let health = request.replace("\"whisper\"", "\"health\"");
    let health = health.replace(
        &format!("Content-Length: {}", envelope.len()),
        &format!("Content-Length: {}", envelope.len() - 1),
    );
    assert_eq!(http::send(a, &health).await.status, 202);
    let next = loop {
        let frame = stream.next_event().await.unwrap().json();
        if frame.get("done").is_none() {
            break frame;
        }
    };
    assert_eq!(next["event"], "health", "eve's whisper was not run: {next}");
}
