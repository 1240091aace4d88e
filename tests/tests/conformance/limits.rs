//! Socket limits: oversized messages close with 1009.

use axum::Router;
use beeflow_axum::Endpoint;
use beeflow_core::handshake::HandshakePolicy;
use beeflow_core::{Dispatcher, Limits, Registry};
use serde_json::json;

use crate::support::{envelope, quickstart, serve};

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let dispatcher = Dispatcher::builder()
        .registry(Registry::builder().build().unwrap())
        .limits(Limits::default().with_max_message_size(64 << 10))
        .build()
        .unwrap();
    let endpoint = Endpoint::new(dispatcher).policy(HandshakePolicy::deny_all().allow_guests());
    let server = serve(Router::new().route("/ws/", endpoint.into_route())).await;
    let mut client = server.connect().await;
    let small = envelope("health", json!({"pad": "x".repeat(60 << 10)}));
    client.send_text(&small).await;
    assert_eq!(client.recv().await["event"], "health");
    let big = envelope("health", json!({"pad": "x".repeat(65 << 10)}));
    client.send_text(&big).await;
    assert_eq!(client.close_code().await, 1009);
}

#[tokio::test]
async fn the_default_limit_is_above_one_mebibyte() {
    let server = quickstart(None).await;
    let mut client = server.connect().await;
    let request = envelope("health", json!({"pad": "x".repeat(3 << 19)}));
    client.send_text(&request).await;
    assert_eq!(client.recv().await["event"], "health");
    // Just over the 2 MiB default, so the whole message is written before the server
    // answers with the close frame.
    let too_big = envelope("health", json!({"pad": "x".repeat((2 << 20) + 1)}));
    client.send_text(&too_big).await;
    assert_eq!(client.close_code().await, 1009);
}
