//! beeflow adapter for axum 0.8: mount a beeflow WebSocket endpoint on any route.
//!
//! The adapter only authenticates the upgrade request (through a
//! [`HandshakePolicy`]), applies the socket
//! [`Limits`](beeflow_core::Limits), and moves frames between the socket and a
//! [`Connection`](beeflow_core::transport::Connection); every wire rule lives in
//! `beeflow-core`. A rejected upgrade is an `application/problem+json` response, never a
//! dropped socket.
//!
//! ```no_run
//! use axum::Router;
//! use beeflow_axum::Endpoint;
//! use beeflow_core::{Dispatcher, HandshakePolicy, HandshakeRequest, Problem};
//!
//! # #[tokio::main]
//! # async fn main() {
//! let dispatcher = Dispatcher::builder().build().expect("a valid configuration");
//! let policy = HandshakePolicy::deny_all().authenticate(|request: HandshakeRequest| async move {
//!     match request.token() {
//!         Some("letmein") => Ok("ada".to_owned()),
//!         _ => Err(Problem::unauthenticated()),
//!     }
//! });
//! let app: Router = Router::new().route("/ws/", Endpoint::new(dispatcher).policy(policy).into_route());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! [`schema_route`] serves the dispatcher's AsyncAPI document and JSON Schema bundle over
//! HTTP, when the application mounts it.

use std::future::ready;
use std::sync::Arc;

use axum::extract::OriginalUri;
use axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade,
    rejection::WebSocketUpgradeRejection,
};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use beeflow_core::schema::{AsyncApiInfo, Documents};
use beeflow_core::transport::{
    self, Admission, CloseReason, Incoming, Outgoing, ProblemTypeBase, check_upgrade, text_headers,
};
use beeflow_core::{Dispatcher, HandshakePolicy, Problem};
use futures_util::{SinkExt, StreamExt};

/// A beeflow WebSocket endpoint: a dispatcher plus the policy that admits connections.
#[derive(Debug, Clone)]
pub struct Endpoint {
    dispatcher: Dispatcher,
    policy: HandshakePolicy,
}

impl Endpoint {
    /// An endpoint serving `dispatcher` that denies every connection until a policy admits
    /// them (see [`Endpoint::policy`]).
    pub fn new(dispatcher: Dispatcher) -> Self {
        Self {
            dispatcher,
            policy: HandshakePolicy::deny_all(),
        }
    }

    /// Sets the policy that authenticates upgrade requests.
    #[must_use]
    pub fn policy(mut self, policy: HandshakePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The `GET` route to mount with [`axum::Router::route`], for a router of any state.
    pub fn into_route<S: Clone + Send + Sync + 'static>(self) -> MethodRouter<S> {
        let endpoint = Arc::new(self);
        get(
            move |upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
                  OriginalUri(uri): OriginalUri,
                  headers: HeaderMap| {
                let endpoint = endpoint.clone();
                async move { endpoint.upgrade(upgrade, &uri, &headers).await }
            },
        )
    }

    async fn upgrade(
        &self,
        upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
    ) -> Response {
        let path = uri.path();
        let header_pairs = text_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
        if let Err(problem) = check_upgrade(&header_pairs) {
            return self.problem_response(&problem, path);
        }
        let upgrade = match upgrade {
            Ok(upgrade) => upgrade,
            // What the headers cannot show (e.g. a connection that cannot be upgraded).
            Err(rejection) => {
                let problem = Problem::websocket_upgrade_required(
                    rejection.status().as_u16(),
                    rejection.body_text(),
                );
                return self.problem_response(&problem, path);
            }
        };
        let admission = match self.policy.admit(path, uri.query(), header_pairs).await {
            Ok(admission) => admission,
            Err(problem) => return self.problem_response(&problem, path),
        };
        let limits = self.dispatcher.limits();
        let mut upgrade = upgrade
            .read_buffer_size(limits.read_buffer_size())
            .write_buffer_size(limits.write_buffer_size())
            .max_message_size(limits.max_message_size())
            .max_frame_size(limits.max_frame_size());
        if let Some(protocol) = admission.protocol() {
            // Only the marker is ever selected: the token stays out of the response.
            upgrade = upgrade.protocols([protocol]);
        }
        let dispatcher = self.dispatcher.clone();
        let path = path.to_owned();
        upgrade.on_upgrade(move |socket| run(dispatcher, path, admission, socket))
    }

    fn problem_response(&self, problem: &Problem, path: &str) -> Response {
        problem_response(problem, self.dispatcher.problem_type_base(), path)
    }
}

fn problem_response(problem: &Problem, base: &ProblemTypeBase, path: &str) -> Response {
    let status = StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = problem.to_http_json(base, path);
    (status, [(header::CONTENT_TYPE, Problem::MEDIA_TYPE)], body).into_response()
}

/// An opt-in `GET` route serving the schema documents of `dispatcher`'s registry, rendered
/// once (see [`beeflow_core::schema`]).
///
/// Mount it at a path whose last segment names the document, e.g. `/schema/{document}`:
/// `asyncapi.json` is the AsyncAPI 3.0 document and `schema.json` the JSON Schema bundle,
/// both `application/json`; any other name is a 404 `application/problem+json`.
///
/// ```
/// use axum::Router;
/// use beeflow_core::Dispatcher;
/// use beeflow_core::schema::{AsyncApiInfo, Server};
///
/// let dispatcher = Dispatcher::builder().build().unwrap();
/// let info = AsyncApiInfo::new("Demo", "1.0.0").with_server("local", Server::ws("127.0.0.1:3000"));
/// let app: Router = Router::new().route(
///     "/schema/{document}",
///     beeflow_axum::schema_route(&dispatcher, &info),
/// );
/// # let _ = app;
/// ```
pub fn schema_route<S: Clone + Send + Sync + 'static>(
    dispatcher: &Dispatcher,
    info: &AsyncApiInfo,
) -> MethodRouter<S> {
    let documents = Arc::new(Documents::new(dispatcher.registry(), info));
    let base = dispatcher.problem_type_base().clone();
    get(move |OriginalUri(uri): OriginalUri| {
        let response = match documents.for_path(uri.path()) {
            Ok(document) => (
                [(header::CONTENT_TYPE, document.media_type())],
                document.body().to_owned(),
            )
                .into_response(),
            Err(problem) => problem_response(&problem, &base, uri.path()),
        };
        ready(response)
    })
}

async fn run(dispatcher: Dispatcher, path: String, admission: Admission, socket: WebSocket) {
    let connection = dispatcher.open(&path, &admission);
    let (sink, stream) = socket.split();
    let incoming = stream.filter_map(|message| ready(incoming(message)));
    let sink = sink.with(|frame: Outgoing| ready(Ok::<_, axum::Error>(outgoing(frame))));
    transport::serve(connection, incoming, Box::pin(sink)).await;
}

/// Text as the core reads it (axum's `Utf8Bytes` derefs to `str` but is not `AsRef<str>`).
struct Text(Utf8Bytes);

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

fn incoming(message: Result<Message, axum::Error>) -> Option<Incoming<Text, axum::body::Bytes>> {
    match message {
        Ok(Message::Text(text)) => Some(Incoming::Text(Text(text))),
        Ok(Message::Binary(bytes)) => Some(Incoming::Binary(bytes)),
        // tungstenite answers pings itself.
        Ok(Message::Ping(_) | Message::Pong(_)) => None,
        Ok(Message::Close(_)) => Some(Incoming::Close),
        Err(error) => Some(violation(error)),
    }
}

fn violation(error: axum::Error) -> Incoming<Text, axum::body::Bytes> {
    let inner = error.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Incoming::Violation(CloseReason::TOO_BIG),
        Some(tungstenite::Error::Utf8(_)) => Incoming::Violation(CloseReason::INVALID_UTF8),
        _ => Incoming::Close,
    }
}

fn outgoing(frame: Outgoing) -> Message {
    match frame {
        Outgoing::Text(text) => Message::Text(text.into()),
        Outgoing::Pong(data) => Message::Pong(data.into()),
        Outgoing::Close(reason) => Message::Close(Some(CloseFrame {
            code: reason.code,
            reason: reason.reason.into(),
        })),
        // `Outgoing` is non-exhaustive; a frame kind this adapter predates closes cleanly.
        _ => Message::Close(None),
    }
}
