//! Servers on 127.0.0.1 and a real WebSocket client for the conformance suite.

use std::any::Any;
use std::net::SocketAddr;

use beeflow_tests::http;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// Every wait in this suite is bounded: a server that stops answering fails the test.
pub(crate) use beeflow_tests::TIMEOUT;

/// A running server on a loopback port; it stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    _stop: Box<dyn Any + Send>,
}

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected client and the subprotocol the server selected.
pub(crate) struct Client {
    pub(crate) socket: Socket,
    pub(crate) protocol: Option<String>,
}

impl Server {
    /// A server listening on `addr` that `stop` stops when it is dropped.
    pub(crate) fn new(addr: SocketAddr, stop: impl Any + Send) -> Self {
        Self {
            addr,
            _stop: Box::new(stop),
        }
    }

    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("ws://{}{path_and_query}", self.addr)
    }

    /// Connects to `/ws/` offering `protocols` in `Sec-WebSocket-Protocol`.
    pub(crate) async fn connect_with(
        &self,
        path_and_query: &str,
        protocols: Option<&str>,
    ) -> Client {
        let mut request = self.url(path_and_query).into_client_request().unwrap();
        if let Some(protocols) = protocols {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(protocols).unwrap(),
            );
        }
        let config = WebSocketConfig::default().max_message_size(Some(64 << 20));
        let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
        let (socket, response) = tokio::time::timeout(TIMEOUT, connecting)
            .await
            .expect("handshake timed out")
            .expect("handshake failed");
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        Client { socket, protocol }
    }

    /// Connects to `/ws/` as a guest.
    pub(crate) async fn connect(&self) -> Client {
        self.connect_with("/ws/", None).await
    }

    /// Sends a raw upgrade request and returns the status line, headers and body of the
    /// response (for rejected handshakes, which must be Problem Details documents).
    pub(crate) async fn raw_upgrade(
        &self,
        path: &str,
        extra_headers: &[(&str, &str)],
    ) -> http::Response {
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            self.addr
        );
        for (name, value) in extra_headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        http::send(self.addr, &request).await
    }
}

/// A valid action envelope.
pub(crate) fn envelope(action: &str, payload: Value) -> String {
    envelope_with(action, payload, Uuid::new_v4())
}

pub(crate) fn envelope_with(action: &str, payload: Value, req_id: Uuid) -> String {
    json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": action, "payload": payload})
        .to_string()
}

impl Client {
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .unwrap();
    }

    pub(crate) async fn send(&mut self, message: Message) {
        self.socket.send(message).await.unwrap();
    }

    /// The next message of any kind, or `None` when the socket ended.
    pub(crate) async fn next_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(TIMEOUT, self.socket.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(_)) | None) => None,
            Err(_) => panic!("no message within {TIMEOUT:?}"),
        }
    }

    /// The next text frame as JSON, skipping control frames.
    pub(crate) async fn recv(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => return serde_json::from_str(&text).unwrap(),
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends one action and returns the first frame that answers it.
    pub(crate) async fn request(&mut self, action: &str, payload: Value) -> Value {
        self.send_text(&envelope(action, payload)).await;
        self.recv().await
    }

    /// Waits for the server's close frame and returns its code.
    pub(crate) async fn close_code(&mut self) -> u16 {
        loop {
            match self.next_message().await {
                Some(Message::Close(Some(frame))) => return frame.code.into(),
                Some(Message::Close(None)) | None => panic!("closed without a close code"),
                Some(_) => {}
            }
        }
    }
}
