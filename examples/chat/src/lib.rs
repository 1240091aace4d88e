//! The chat example's application: rooms as subscriptions (protocol version 2), who is in a
//! room from presence, whispers to users, a timer and an HTTP endpoint pushing to everyone.
//! Shared by the binary and the end-to-end tests.

pub mod actions;
pub mod notes;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use beeflow_axum::Endpoint;
use beeflow_core::{
    Dispatcher, DispatcherBuilder, HandshakePolicy, HandshakeRequest, Problem, Recipient,
    SubscriptionRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::actions::{Announcement, Clock, EVERYONE};

/// The chat's dispatcher, to finish with a broker or limits: any connection may subscribe
/// to any topic of 1 to 64 bytes, pattern or not, and see who is in a room.
pub fn dispatcher() -> DispatcherBuilder {
    Dispatcher::builder()
        // The production defaults; `BEEFLOW_RATE_LIMIT=off` turns them off for benchmarks.
        .rate_limits(example_demo_actions::rate_limits())
        .authorize_subscriptions(|request: &SubscriptionRequest<'_>| {
            (1..=64).contains(&request.topic().as_str().len())
        })
        .state(notes::RoomNotes::default())
}

/// The router: the chat page at `/`, the WebSocket endpoint at `/ws/`, its Server-Sent
/// Events twin at `/sse/`, and
/// `POST /announce {"text": ...}` pushing an announcement to every connection.
///
/// Connections authenticate with their nickname as the token. The chat page speaks protocol
/// version 2 (`new WebSocket(url, ["beeflow.v2", "access-token", nickname])`): it
/// subscribes to `everyone`, which the clock and announcements go to, and to each room with
/// its presence. Version-1 clients join rooms with the `join_room` action instead.
pub fn app(dispatcher: Dispatcher) -> Router {
    let policy = HandshakePolicy::deny_all()
        .authenticate(|request: HandshakeRequest| async move {
            // A demo: the token is the nickname. A real application verifies a token here.
            match request.token() {
                Some(name) if (1..=32).contains(&name.chars().count()) => Ok(name.to_owned()),
                _ => Err(Problem::unauthenticated()),
            }
        })
        // A browser's EventSource cannot send an `Authorization` header: the page's SSE
        // stream names its token in the query. (A query string may end up in logs; a real
        // application would use a cookie, which the policy reads as a header.)
        .token_from_query("access_token");
    let endpoint = Endpoint::new(dispatcher.clone()).policy(policy);
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/client.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], CLIENT) }),
        )
        .route("/ws/", endpoint.clone().into_route())
        .route("/sse/", endpoint.into_sse_route())
        .route("/announce", post(announce))
        .with_state(dispatcher)
}

#[derive(Deserialize)]
struct AnnounceRequest {
    text: String,
}

/// A push from outside any request: an ordinary HTTP handler holding the dispatcher.
async fn announce(
    State(dispatcher): State<Dispatcher>,
    Json(request): Json<AnnounceRequest>,
) -> (StatusCode, Json<Value>) {
    let event = Announcement { text: request.text };
    match dispatcher.emit(Recipient::group(EVERYONE), &event).await {
        Ok(report) => (
            StatusCode::OK,
            Json(json!({
                "delivered": report.delivered,
                "dropped": report.dropped,
                "published": report.published,
            })),
        ),
        Err(problem) => (
            StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({"code": problem.code(), "detail": problem.detail()})),
        ),
    }
}

/// Serves the chat for `dispatcher` on `listener` until Ctrl-C or SIGTERM, then shuts down
/// gracefully (see [`beeflow_axum::serve`]).
///
/// # Errors
///
/// The listener failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dispatcher: Dispatcher,
) -> std::io::Result<()> {
    let app = app(dispatcher.clone());
    beeflow_axum::serve(
        listener,
        app,
        dispatcher,
        example_demo_actions::shutdown_signal(),
    )
    .await
    .map(drop)
}

/// Pushes the clock to everyone every `period`, until the dispatcher is dropped elsewhere
/// and the task is aborted with the runtime.
pub fn spawn_clock(dispatcher: Dispatcher, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let unix_seconds = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // A push to an empty group reaches nobody, which is fine.
            let _ = dispatcher
                .emit(Recipient::group(EVERYONE), &Clock { unix_seconds })
                .await;
        }
    })
}

const PAGE: &str = include_str!("page.html");
/// `@beeflow/client` (`clients/typescript`), bundled by its `npm run bundle`; a test there
/// checks this copy is what the source builds to.
const CLIENT: &str = include_str!("client.js");
