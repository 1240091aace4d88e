//! beeflow adapter for axum 0.8: mount a beeflow WebSocket endpoint on any route.
//!
//! The adapter only authenticates the upgrade request (through a
//! [`HandshakePolicy`]), applies the socket
//! [`Limits`](beeflow_core::Limits), and hands the upgraded connection's bytes to
//! [`beeflow_core::transport::serve`], which speaks the WebSocket protocol; every wire rule
//! lives in `beeflow-core`. A rejected upgrade is an `application/problem+json` response, never a
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

mod serve;

pub use serve::serve;

use std::future::{self, ready};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, Request};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use beeflow_core::schema::{AsyncApiInfo, Documents};
use beeflow_core::transport::{self, Ended, ProblemTypeBase, UpgradeRequest};
use beeflow_core::{Dispatcher, HandshakePolicy, Problem};
use futures_util::FutureExt;
use futures_util::future::Either;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

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

    /// Sets the policy that authenticates upgrade requests. Logs, at error level, every
    /// action whose `Identity<T>` this policy never gives
    /// ([`transport::check_policy`]).
    #[must_use]
    pub fn policy(mut self, policy: HandshakePolicy) -> Self {
        transport::check_policy(&self.dispatcher, &policy);
        self.policy = policy;
        self
    }

    /// The `GET` route to mount with [`axum::Router::route`], for a router of any state.
    pub fn into_route<S: Clone + Send + Sync + 'static>(self) -> MethodRouter<S> {
        let endpoint = Arc::new(self);
        get(move |request: Request| {
            let endpoint = endpoint.clone();
            async move { endpoint.upgrade(request).await }
        })
    }

    /// The Server-Sent Events route (`docs/protocol.md` §7) to mount with
    /// [`axum::Router::route`] beside the WebSocket one: `GET` opens a stream (the token
    /// in `Authorization: Bearer`, the topics to subscribe to in `?topic=`), `POST` sends an
    /// action to the stream its `Beeflow-Session` header names. Refusals are
    /// `application/problem+json`, as for the WebSocket.
    pub fn into_sse_route<S: Clone + Send + Sync + 'static>(self) -> MethodRouter<S> {
        let endpoint = Arc::new(self);
        let poster = endpoint.clone();
        get(move |request: Request| {
            let endpoint = endpoint.clone();
            async move { endpoint.stream(request).await }
        })
        .post(move |request: Request| {
            let endpoint = poster.clone();
            async move { endpoint.post(request).await }
        })
    }

    async fn stream(&self, request: Request) -> Response {
        let (path, core) = core_request(&request);
        match transport::sse::open(&self.dispatcher, &self.policy, core).await {
            Ok(stream) => {
                let mut response = Response::new(Body::from_stream(stream));
                for (name, value) in transport::sse::SSE_RESPONSE_HEADERS {
                    response
                        .headers_mut()
                        .insert(name, HeaderValue::from_static(value));
                }
                response
            }
            Err(problem) => self.problem_response(&problem, &path),
        }
    }

    async fn post(&self, request: Request) -> Response {
        let (path, core) = core_request(&request);
        let limit = self.dispatcher.limits().max_message_size();
        let Ok(body) = axum::body::to_bytes(request.into_body(), limit).await else {
            return self.problem_response(&Problem::request_too_large(limit), &path);
        };
        match transport::sse::post(&self.dispatcher, &self.policy, core, &body).await {
            Ok(()) => StatusCode::ACCEPTED.into_response(),
            Err(problem) => self.problem_response(&problem, &path),
        }
    }

    async fn upgrade(&self, mut request: Request) -> Response {
        let (path, upgrade) = core_request(&request);
        let path = path.as_str();
        let accepted = match transport::accept(&self.dispatcher, &self.policy, upgrade).await {
            Ok(accepted) => accepted,
            Err(problem) => return self.problem_response(&problem, path),
        };
        let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
            let problem = Problem::websocket_upgrade_required(
                426,
                "This connection cannot be upgraded to a WebSocket.",
            );
            return self.problem_response(&problem, path);
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        for (name, value) in accepted.response_headers() {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(*name, value);
            }
        }
        let connection = accepted.into_connection();
        // A combinator, not an async block: a block would keep `connection` in the task's
        // state beside the copy `serve` holds, for as long as the connection lives.
        tokio::spawn(on_upgrade.then(|upgraded| match upgraded {
            Ok(upgraded) => Either::Left(transport::serve(connection, TokioIo::new(upgraded))),
            // The client went away before the upgrade completed: the connection just closes.
            Err(_) => Either::Right(future::ready(Ended::ClientClosed)),
        }));
        response
    }

    fn problem_response(&self, problem: &Problem, path: &str) -> Response {
        problem_response(problem, self.dispatcher.problem_type_base(), path)
    }
}

/// The request as the core reads it, and the path the client asked for (behind
/// `Router::nest`, the original one).
fn core_request(request: &Request) -> (String, UpgradeRequest) {
    let uri = match request.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.clone(),
        None => request.uri().clone(),
    };
    let path = uri.path();
    let mut core = UpgradeRequest::new(
        http_version(request.version()),
        path,
        uri.query(),
        request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    // Known when the router is served with `into_make_service_with_connect_info`.
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        core = core.with_peer(peer.ip());
    }
    (path.to_owned(), core)
}

/// `problem` as the response of one of your own HTTP routes, exactly as the endpoint
/// renders its refusals: its status, `application/problem+json`, `type` under the
/// dispatcher's problem base, `instance` as given (the request path), and `Retry-After`
/// when the problem says when to retry.
pub fn problem(dispatcher: &Dispatcher, problem: &Problem, instance: &str) -> Response {
    problem_response(problem, dispatcher.problem_type_base(), instance)
}

fn problem_response(problem: &Problem, base: &ProblemTypeBase, path: &str) -> Response {
    let status = StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = problem.to_http_json(base, path);
    let mut response =
        (status, [(header::CONTENT_TYPE, Problem::MEDIA_TYPE)], body).into_response();
    if let Some(seconds) = problem.retry_after_seconds() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
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

fn http_version(version: Version) -> (u8, u8) {
    match version {
        Version::HTTP_09 => (0, 9),
        Version::HTTP_10 => (1, 0),
        Version::HTTP_11 => (1, 1),
        Version::HTTP_2 => (2, 0),
        _ => (3, 0),
    }
}
