//! Socket limits: oversized messages close with 1009, whole or in fragments.

use beeflow_core::HandshakePolicy;
use beeflow_core::{Dispatcher, Limits, Registry};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::adapters::Adapter;
use crate::support::{Server, envelope};

/// Guests welcome, no actions but `health`, messages up to 64 KiB.
fn small_limit_server(adapter: &dyn Adapter) -> Server {
    let dispatcher = Dispatcher::builder()
        .registry(Registry::builder().build().unwrap())
        .limits(Limits::default().with_max_message_size(64 << 10))
        .build()
        .unwrap();
    adapter.spawn(dispatcher, HandshakePolicy::deny_all().allow_guests())
}

pub(crate) async fn a_message_over_the_limit_closes_with_1009(adapter: &dyn Adapter) {
    let server = small_limit_server(adapter);
    let mut client = server.connect().await;
    let small = envelope("health", json!({"pad": "x".repeat(60 << 10)}));
    client.send_text(&small).await;
    assert_eq!(client.recv().await["event"], "health");
    let big = envelope("health", json!({"pad": "x".repeat(65 << 10)}));
    client.send_text(&big).await;
    assert_eq!(client.close_code().await, 1009);
}

pub(crate) async fn fragments_over_the_limit_close_with_1009(adapter: &dyn Adapter) {
    let server = small_limit_server(adapter);
    let mut client = server.connect().await;
    // Three frames of 30 KiB: each is within the limit, the message is not.
    let text = envelope("health", json!({"pad": "x".repeat(90 << 10)}));
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(text.len().div_ceil(3)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let frame = Frame::message(chunk.to_vec(), OpCode::Data(opcode), i == chunks.len() - 1);
        client.send(Message::Frame(frame)).await;
    }
    assert_eq!(client.close_code().await, 1009);
}

pub(crate) async fn the_default_limit_is_above_one_mebibyte(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
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
