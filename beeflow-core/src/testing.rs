//! An in-memory client for testing actions without a server or a socket.
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

use crate::dispatch::Dispatcher;
use crate::outbound::{OutFrame, Outbound};
use crate::recipient::ConnectionId;
use crate::session::{Inbound, Session};

/// The WebSocket path test sessions pretend to be on (the `instance` of their problems).
pub const TEST_PATH: &str = "/ws/";

/// A connection to a [`Dispatcher`] that lives in memory: send an action, get the frames it
/// produced back as JSON values.
#[derive(Debug)]
pub struct TestClient {
    session: Session,
    outbound: Outbound,
}

impl TestClient {
    /// Connects without an identity (a guest).
    pub fn connect(dispatcher: &Dispatcher) -> Self {
        let (session, outbound) = dispatcher.open_session(TEST_PATH);
        Self { session, outbound }
    }

    /// Connects authenticated as `identity`.
    pub fn connect_as<I: crate::Principal>(dispatcher: &Dispatcher, identity: I) -> Self {
        let (session, outbound) = dispatcher.open_session_as(TEST_PATH, identity);
        Self { session, outbound }
    }

    /// This connection's id.
    pub fn connection_id(&self) -> &ConnectionId {
        self.session.connection_id()
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
        self.session.handle(Inbound::Text(text)).await;
        self.drain()
    }

    /// Sends a raw binary frame and returns the frames it produced.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Vec<Value> {
        self.session.handle(Inbound::Binary(bytes)).await;
        self.drain()
    }

    /// Waits for the next frame, e.g. an event pushed from elsewhere.
    ///
    /// # Panics
    ///
    /// Panics if the server closed the connection.
    pub async fn recv(&mut self) -> Value {
        match self.outbound.recv().await {
            Some(frame) => to_json(frame),
            None => panic!("the connection is closed"),
        }
    }

    /// Every frame queued for this connection now.
    pub fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.outbound.try_recv().map(to_json)).collect()
    }
}

fn to_json(frame: OutFrame) -> Value {
    match frame {
        OutFrame::Text(text) => {
            serde_json::from_str(&text).expect("the server sends JSON text frames")
        }
        OutFrame::Pong(data) => json!({ "pong": data }),
        OutFrame::Close(close) => json!({ "close": close.code, "reason": close.reason }),
    }
}
