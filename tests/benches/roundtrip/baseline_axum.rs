//! The axum baseline: a minimal hand-written axum WebSocket server answering `health` in the
//! same wire format, with no framework (see `baseline_health.rs` for what it does with a
//! frame). It uses the same socket settings as beeflow's defaults so
//! the comparison measures the framework, not the configuration.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use beeflow_core::Limits;
use futures_util::{SinkExt, StreamExt};

use crate::baseline_health::Connection;

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
    let mut connection = Connection::new();
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Some(reply) = connection.answer(&text) else {
            continue;
        };
        if sink.send(Message::Text(reply.into())).await.is_err() {
            return;
        }
    }
}
