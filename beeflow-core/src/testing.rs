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

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::connection::{Connection, Inbound};
use crate::dispatch::Dispatcher;
use crate::handshake::{ACCESS_TOKEN_PROTOCOL, Admission, HandshakePolicy};
use crate::identity::Principal;
use crate::outbound::Outgoing;
use crate::problem::Problem;
use crate::recipient::ConnectionId;
use crate::transport::{self, UpgradeRequest};

/// The WebSocket path test connections pretend to be on (the `instance` of their problems).
pub const TEST_PATH: &str = "/ws/";

/// A connection to a [`Dispatcher`] that lives in memory: send an action, get the frames it
/// produced back as JSON values.
#[derive(Debug)]
pub struct TestClient {
    connection: Connection,
    recv_timeout: Duration,
}

impl TestClient {
    /// How long [`TestClient::recv`] waits for a frame unless
    /// [`TestClient::with_recv_timeout`] says otherwise.
    pub const DEFAULT_RECV_TIMEOUT: Duration = Duration::from_secs(5);

    /// Connects through `policy` as a browser would, offering `token` in the `access-token`
    /// subprotocol pair: the policy authenticates it exactly as it does behind an adapter
    /// (same checks, same Problems).
    ///
    /// ```
    /// use beeflow_core::testing::TestClient;
    /// use beeflow_core::{Dispatcher, HandshakePolicy, HandshakeRequest, Problem, Registry};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::builder()
    ///     .registry(Registry::builder().build().unwrap())
    ///     .build()
    ///     .unwrap();
    /// let policy = HandshakePolicy::deny_all().authenticate(|request: HandshakeRequest| async move {
    ///     match request.token() {
    ///         Some("alice-token") => Ok("alice".to_owned()),
    ///         _ => Err(Problem::unauthenticated()),
    ///     }
    /// });
    /// let refused = TestClient::handshake(&dispatcher, &policy, "wrong").await.unwrap_err();
    /// assert_eq!(refused.status(), 401);
    /// let mut alice = TestClient::handshake(&dispatcher, &policy, "alice-token").await.unwrap();
    /// assert_eq!(alice.send("health", serde_json::json!({})).await.len(), 1);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The Problem an adapter would answer the upgrade with.
    pub async fn handshake(
        dispatcher: &Dispatcher,
        policy: &HandshakePolicy,
        token: &str,
    ) -> Result<Self, Problem> {
        let protocols = format!("{ACCESS_TOKEN_PROTOCOL}, {token}");
        Self::handshake_with_headers(
            dispatcher,
            policy,
            &[("Sec-WebSocket-Protocol", protocols.as_str())],
        )
        .await
    }

    /// Connects through `policy` with an upgrade request to [`TEST_PATH`] that carries
    /// `headers` (a cookie, an `Origin`, a subprotocol) besides the WebSocket ones.
    ///
    /// # Errors
    ///
    /// The Problem an adapter would answer the upgrade with.
    pub async fn handshake_with_headers(
        dispatcher: &Dispatcher,
        policy: &HandshakePolicy,
        headers: &[(&str, &str)],
    ) -> Result<Self, Problem> {
        let upgrade = [
            ("Host", "localhost"),
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let all = upgrade
            .iter()
            .chain(headers)
            .map(|(name, value)| (*name, value.as_bytes()));
        let request = UpgradeRequest::new((1, 1), TEST_PATH, None, all);
        let accepted = transport::accept(dispatcher, policy, request).await?;
        Ok(Self::new(accepted.into_connection()))
    }

    fn new(connection: Connection) -> Self {
        Self {
            connection,
            recv_timeout: Self::DEFAULT_RECV_TIMEOUT,
        }
    }

    /// Sets how long [`TestClient::recv`] waits for a frame before it panics.
    #[must_use]
    pub fn with_recv_timeout(mut self, timeout: Duration) -> Self {
        self.recv_timeout = timeout;
        self
    }

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

    /// Connects as `admission` says: a guest or an identity, speaking protocol version 1
    /// or ([`Admission::v2`]) version 2.
    ///
    /// ```
    /// use beeflow_core::testing::TestClient;
    /// use beeflow_core::transport::Admission;
    /// use beeflow_core::Dispatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::builder().build().unwrap();
    /// let mut client = TestClient::admitted(&dispatcher, &Admission::guest().v2());
    /// let frames = client.send("health", serde_json::json!({})).await;
    /// assert_eq!(frames[1]["done"]["events"], 1);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the dispatcher refuses the connection (it is shutting down, or full).
    pub fn admitted(dispatcher: &Dispatcher, admission: &Admission) -> Self {
        let connection = dispatcher
            .open(TEST_PATH, admission)
            .unwrap_or_else(|problem| panic!("the dispatcher refused the connection: {problem}"));
        Self::new(connection)
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

    /// Handles a raw binary frame to completion (a MessagePack envelope on a
    /// `beeflow.v2.msgpack` connection) and leaves what it produced queued, to be read with
    /// [`TestClient::recv_frame`].
    pub async fn handle_binary(&mut self, bytes: &[u8]) {
        self.connection
            .requests
            .handle(Inbound::Binary(bytes))
            .await;
    }

    /// Waits for the next frame, e.g. an event emitted from elsewhere, for at most the
    /// receive timeout ([`TestClient::DEFAULT_RECV_TIMEOUT`] unless set with
    /// [`TestClient::with_recv_timeout`]).
    ///
    /// # Panics
    ///
    /// Panics if no frame came within the timeout, or the server closed the connection.
    pub async fn recv(&mut self) -> Value {
        let timeout = self.recv_timeout;
        match self.recv_within(timeout).await {
            Some(frame) => frame,
            None => panic!("no frame for this connection within {timeout:?}"),
        }
    }

    /// Waits up to `timeout` for the next frame; `None` if none came (to check that nothing
    /// is sent).
    ///
    /// # Panics
    ///
    /// Panics if the server closed the connection.
    pub async fn recv_within(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.recv_frame()).await {
            Ok(Some(frame)) => Some(to_json(frame)),
            Ok(None) => panic!("the connection is closed"),
            Err(_) => None,
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
        #[cfg(feature = "msgpack")]
        Outgoing::Binary(bytes) => serde_json::from_str(
            &crate::envelope::msgpack::to_json(&bytes).expect("the server sends MessagePack"),
        )
        .expect("MessagePack frames stand for JSON"),
        #[cfg(not(feature = "msgpack"))]
        Outgoing::Binary(_) => unreachable!("binary frames need the msgpack feature"),
        Outgoing::Ping => json!({ "ping": true }),
        Outgoing::Close(close) => json!({ "close": close.code, "reason": close.reason }),
    }
}
