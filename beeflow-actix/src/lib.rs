//! beeflow adapter for actix-web 4: mount a beeflow WebSocket endpoint at any path of an
//! actix [`App`](actix_web::App).
//!
//! The adapter only authenticates the upgrade request (through a [`HandshakePolicy`]),
//! applies the socket [`Limits`](beeflow_core::Limits), and hands the upgraded connection's
//! bytes (the request payload in, the 101 response's body out) to
//! [`transport::serve`], which speaks WebSocket on them;
//! every wire rule lives in `beeflow-core`, so a client sees exactly what it sees from
//! `beeflow-axum`. A rejected upgrade is an `application/problem+json` response, never a
//! dropped socket.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use beeflow_actix::Endpoint;
//! use beeflow_core::{Dispatcher, HandshakePolicy, HandshakeRequest, Problem};
//!
//! # fn main() -> std::io::Result<()> {
//! # actix_web::rt::System::new().block_on(async {
//! let dispatcher = Dispatcher::builder().build().expect("a valid configuration");
//! let policy = HandshakePolicy::deny_all().authenticate(|request: HandshakeRequest| async move {
//!     match request.token() {
//!         Some("letmein") => Ok("ada".to_owned()),
//!         _ => Err(Problem::unauthenticated()),
//!     }
//! });
//! let endpoint = Endpoint::new(dispatcher).policy(policy);
//! // The factory runs once per worker thread: each gets a clone of the endpoint.
//! HttpServer::new(move || App::new().service(endpoint.clone().into_resource("/ws/")))
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await
//! # })
//! # }
//! ```
//!
//! actix-web runs each connection on one worker thread and its request payload is not
//! `Send`: the connection loop ([`beeflow_core::transport::serve`]) runs as a local task on
//! that worker.

mod socket;

use std::sync::Arc;

use actix_web::http::{StatusCode, Version};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use beeflow_core::schema::{AsyncApiInfo, Documents};
use beeflow_core::transport::{self, ProblemTypeBase, UpgradeRequest};
use beeflow_core::{Dispatcher, HandshakePolicy, Problem};

/// A beeflow WebSocket endpoint: a dispatcher plus the policy that admits connections.
///
/// Cheap to clone; every clone serves the same dispatcher (clone it into the `HttpServer`
/// factory, which runs once per worker).
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

    /// The endpoint as a resource at `path` (any path), to mount with
    /// [`App::service`](actix_web::App::service) or [`Scope::service`](actix_web::Scope::service).
    /// It answers `GET`; other methods get actix's plain 405, as with axum.
    pub fn into_resource(self, path: &str) -> Resource {
        web::resource(path).route(self.into_route())
    }

    /// The bare `GET` route, for a [`Resource`] of your own
    /// (`web::resource("/ws/").route(endpoint.into_route())`).
    ///
    /// Mounted with [`App::route`](actix_web::App::route) instead, the path only matches
    /// `GET`, so other methods get 404 rather than 405: prefer [`Endpoint::into_resource`].
    pub fn into_route(self) -> Route {
        let endpoint = Arc::new(self);
        web::get().to(move |request: HttpRequest, body: web::Payload| {
            let endpoint = endpoint.clone();
            async move { endpoint.upgrade(&request, body).await }
        })
    }

    /// The Server-Sent Events resource at `path` (`docs/protocol.md` §7), beside the
    /// WebSocket one: `GET` opens a stream (the token in `Authorization: Bearer`, the topics
    /// to subscribe to in `?topic=`), `POST` sends an action to the stream its
    /// `Beeflow-Session` header names. Refusals are `application/problem+json`.
    pub fn into_sse_resource(self, path: &str) -> Resource {
        let endpoint = Arc::new(self);
        let poster = endpoint.clone();
        web::resource(path)
            .route(web::get().to(move |request: HttpRequest| {
                let endpoint = endpoint.clone();
                async move { endpoint.stream(&request).await }
            }))
            .route(
                web::post().to(move |request: HttpRequest, body: web::Payload| {
                    let endpoint = poster.clone();
                    async move { endpoint.post(&request, body).await }
                }),
            )
    }

    async fn stream(&self, request: &HttpRequest) -> HttpResponse {
        match transport::sse::open(&self.dispatcher, &self.policy, core_request(request)).await {
            Ok(stream) => {
                let mut response = HttpResponse::Ok();
                for header in transport::sse::SSE_RESPONSE_HEADERS {
                    response.insert_header(header);
                }
                response.streaming(stream)
            }
            Err(problem) => self.problem_response(&problem, request.path()),
        }
    }

    async fn post(&self, request: &HttpRequest, mut body: web::Payload) -> HttpResponse {
        use futures_util::StreamExt;
        let limit = self.dispatcher.limits().max_message_size();
        let mut bytes = web::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else {
                return HttpResponse::BadRequest().finish();
            };
            if bytes.len() + chunk.len() > limit {
                let problem = Problem::request_too_large(limit);
                return self.problem_response(&problem, request.path());
            }
            bytes.extend_from_slice(&chunk);
        }
        let core = core_request(request);
        match transport::sse::post(&self.dispatcher, &self.policy, core, &bytes).await {
            Ok(()) => HttpResponse::Accepted().finish(),
            Err(problem) => self.problem_response(&problem, request.path()),
        }
    }

    async fn upgrade(&self, request: &HttpRequest, body: web::Payload) -> HttpResponse {
        let path = request.path();
        let upgrade = core_request(request);
        let accepted = match transport::accept(&self.dispatcher, &self.policy, upgrade).await {
            Ok(accepted) => accepted,
            Err(problem) => return self.problem_response(&problem, path),
        };
        let (socket, body) = socket::Socket::new(body.into_inner());
        let mut response = HttpResponse::SwitchingProtocols();
        // Marks the response as an upgrade, so actix hands the connection over once sent.
        response.upgrade("websocket");
        for header in accepted.response_headers() {
            response.insert_header(header.clone());
        }
        let connection = accepted.into_connection();
        // The payload stream is not `Send`: run the connection on this worker's thread.
        actix_web::rt::spawn(transport::serve(connection, socket));
        response.streaming(body)
    }

    fn problem_response(&self, problem: &Problem, path: &str) -> HttpResponse {
        problem_response(problem, self.dispatcher.problem_type_base(), path)
    }
}

/// Serves the dispatcher's AsyncAPI document (`…/asyncapi.json`) and JSON Schema bundle
/// (`…/schema.json`) as a resource at `path`, which must end with a `{document}` segment;
/// any other document name gets a 404 `application/problem+json`. The documents are built
/// once, here.
///
/// ```
/// use actix_web::App;
/// use beeflow_core::Dispatcher;
/// use beeflow_core::schema::AsyncApiInfo;
///
/// let dispatcher = Dispatcher::builder().build().unwrap();
/// let info = AsyncApiInfo::new("chat", "1.0.0");
/// let app = App::new().service(beeflow_actix::schema_resource(
///     &dispatcher,
///     &info,
///     "/schema/{document}",
/// ));
/// # let _ = app;
/// ```
pub fn schema_resource(dispatcher: &Dispatcher, info: &AsyncApiInfo, path: &str) -> Resource {
    let documents = Arc::new(Documents::new(dispatcher.registry(), info));
    let base = dispatcher.problem_type_base().clone();
    web::resource(path).route(web::get().to(move |request: HttpRequest| {
        let response = match documents.for_path(request.path()) {
            Ok(document) => HttpResponse::Ok()
                .content_type(document.media_type())
                .body(document.body().to_owned()),
            Err(problem) => problem_response(&problem, &base, request.path()),
        };
        std::future::ready(response)
    }))
}

/// The request as the core reads it.
fn core_request(request: &HttpRequest) -> UpgradeRequest {
    let core = UpgradeRequest::new(
        http_version(request.version()),
        request.path(),
        request.uri().query(),
        request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    match request.peer_addr() {
        Some(peer) => core.with_peer(peer.ip()),
        None => core,
    }
}

/// `problem` as the response of one of your own HTTP routes, exactly as the endpoint
/// renders its refusals: its status, `application/problem+json`, `type` under the
/// dispatcher's problem base, `instance` as given (the request path), and `Retry-After`
/// when the problem says when to retry.
pub fn problem(dispatcher: &Dispatcher, problem: &Problem, instance: &str) -> HttpResponse {
    problem_response(problem, dispatcher.problem_type_base(), instance)
}

fn problem_response(problem: &Problem, base: &ProblemTypeBase, path: &str) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = HttpResponse::build(status);
    response.content_type(Problem::MEDIA_TYPE);
    if let Some(seconds) = problem.retry_after_seconds() {
        response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
    }
    response.body(problem.to_http_json(base, path))
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
