//! An in-memory client for testing actions without a server or a socket (cargo feature
//! `test-util`).
//!
//! ```
//! use beeflow_core::testing::TestClient;
//! use beeflow_core::{Dispatcher, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dispatcher = Dispatcher::builder()
//!     .registry(Registry::builder().build().unwrap())
//!     .build()
//!     .unwrap();
//! let mut client = TestClient::connect(&dispatcher);
//! let frames = client.send("health", serde_json::json!({})).await;
//! assert_eq!(frames[0]["event"], "health");
//! assert_eq!(frames[0]["payload"]["status"], "ok");
//! assert_eq!(frames[0]["seq"], 1);
//! # }
//! ```

use serde_json::{Value, json};
use uuid::Uuid;

use crate::connection::{Connection, Inbound};
use crate::dispatch::Dispatcher;
use crate::handshake::Admission;
use crate::identity::Principal;
use crate::outbound::Outgoing;
use crate::recipient::ConnectionId;

/// The WebSocket path test connections pretend to be on (the `instance` of their problems).
pub const TEST_PATH: &str = "/ws/";

/// A connection to a [`Dispatcher`] that lives in memory: send an action, get the frames it
/// produced back as JSON values.
#[derive(Debug)]
pub struct TestClient {
    connection: Connection,
}

impl TestClient {
    /// Connects without an identity (a guest).
    ///
    /// # Panics
    ///
    /// When the dispatcher refuses the connection (it is shutting down, or full).
    pub fn connect(dispatcher: &Dispatcher) -> Self {
        Self::admitted(dispatcher, &Admission::guest())
    }

    /// Connects authenticated as `identity`.
    ///
    /// # Panics
    ///
    /// When the dispatcher refuses the connection (it is shutting down, or full).
    pub fn connect_as<I: Principal>(dispatcher: &Dispatcher, identity: I) -> Self {
        Self::admitted(dispatcher, &Admission::authenticated(identity))
    }

    /// # Panics
    ///
    /// When the dispatcher refuses the connection (it is shutting down, or full).
    fn admitted(dispatcher: &Dispatcher, admission: &Admission) -> Self {
        let connection = dispatcher
            .open(TEST_PATH, admission)
            .unwrap_or_else(|problem| panic!("the dispatcher refused the connection: {problem}"));
        Self { connection }
    }

    /// This connection's id.
    pub fn connection_id(&self) -> &ConnectionId {
        self.connection.id()
    }

    /// Sends action `action` with `payload` under fresh `msg_id` and `req_id`, and returns
    /// every frame queued for this connection once the action has finished.
    pub async fn send(&mut self, action: &str, payload: Value) -> Vec<Value> {
        self.send_with_req_id(action, payload, Uuid::new_v4()).await
    }

    /// Like [`TestClient::send`] with a chosen `req_id`.
    pub async fn send_with_req_id(
        &mut self,
        action: &str,
        payload: Value,
        req_id: Uuid,
    ) -> Vec<Value> {
        let envelope = json!({
            "msg_id": Uuid::new_v4(),
            "req_id": req_id,
            "action": action,
            "payload": payload,
        });
        self.send_text(&envelope.to_string()).await
    }

    /// Sends a raw text frame (which need not be valid) and returns the frames it produced.
    pub async fn send_text(&mut self, text: &str) -> Vec<Value> {
        self.handle_text(text).await;
        self.drain()
    }

    /// Sends a raw binary frame and returns the frames it produced.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Vec<Value> {
        self.connection
            .requests
            .handle(Inbound::Binary(bytes))
            .await;
        self.drain()
    }

    /// Handles a raw text frame to completion and leaves what it produced queued, to be read
    /// with [`TestClient::try_recv_frame`]: the least overhead, for benchmarks.
    pub async fn handle_text(&mut self, text: &str) {
        self.connection.requests.handle(Inbound::Text(text)).await;
    }

    /// Waits for the next frame, e.g. an event emitted from elsewhere.
    ///
    /// # Panics
    ///
    /// Panics if the server closed the connection.
    pub async fn recv(&mut self) -> Value {
        match self.recv_frame().await {
            Some(frame) => to_json(frame),
            None => panic!("the connection is closed"),
        }
    }

    /// Every frame queued for this connection now.
    pub fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.try_recv_frame().map(to_json)).collect()
    }

    /// Waits for the next frame as the transport would write it; `None` once the connection
    /// is closed.
    pub async fn recv_frame(&mut self) -> Option<Outgoing> {
        self.connection.queue.recv().await
    }

    /// The next frame as the transport would write it, if one is queued now.
    pub fn try_recv_frame(&mut self) -> Option<Outgoing> {
        self.connection.queue.try_recv()
    }
}

fn to_json(frame: Outgoing) -> Value {
    match frame {
        Outgoing::Text(text) => {
            serde_json::from_str(&text).expect("the server sends JSON text frames")
        }
        Outgoing::Ping => json!({ "ping": true }),
        Outgoing::Close(close) => json!({ "close": close.code, "reason": close.reason }),
    }
}
