//! The axum baseline: a minimal hand-written axum WebSocket server answering `health` in the
//! same wire format, with no framework — parse into a `serde_json::Value`, check the
//! action, serialize the reply. It uses the same socket settings as beeflow's defaults so
//! the comparison measures the framework, not the configuration.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use beeflow_core::Limits;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

pub(crate) fn app() -> Router {
    Router::new().route(
        "/ws/",
        get(|upgrade: WebSocketUpgrade| async move {
            let limits = Limits::default();
            upgrade
                .read_buffer_size(limits.read_buffer_size())
                .write_buffer_size(limits.write_buffer_size())
                .max_message_size(limits.max_message_size())
                .max_frame_size(limits.max_frame_size())
                .on_upgrade(serve)
        }),
    )
}

async fn serve(socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let connection_id = uuid::Uuid::new_v4().to_string();
    let mut seq = 0u64;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(request) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if request["action"] != "health" {
            continue;
        }
        seq += 1;
        let reply = json!({
            "msg_id": uuid::Uuid::new_v4(),
            "req_id": request["req_id"],
            "seq": seq,
            "event": "health",
            "recipient": "websocket",
            "recipient_id": connection_id,
            "payload": {"status": "ok"},
        });
        if sink
            .send(Message::Text(reply.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}
