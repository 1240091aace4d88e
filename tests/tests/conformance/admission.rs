//! What is decided before a connection opens, and how it ends: rate and connection limits,
//! the handshake timeout, the origin check, graceful shutdown; and what a problem repeats
//! of a client's text.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use beeflow_core::{
    Dispatcher, Event, HandshakePolicy, HandshakeRequest, Limits, Problem, Rate, RateLimits,
    Registry, State, action,
};
use beeflow_tests::{http, until};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

use crate::adapters::Adapter;
use crate::support::{Server, envelope};

#[derive(Deserialize, schemars::JsonSchema)]
struct Empty {}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "done", register = false)]
struct Done {}

/// Holds its requests until the test releases them (a request "still running"), and counts
/// the ones that started.
#[derive(Clone, Default)]
struct Gate {
    release: Arc<Notify>,
    started: Arc<AtomicUsize>,
}

impl Gate {
    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

#[action(name = "wait", register = false)]
async fn wait(_payload: Empty, State(gate): State<Gate>) -> Done {
    let released = gate.release.notified();
    gate.started.fetch_add(1, Ordering::SeqCst);
    released.await;
    Done {}
}

fn dispatcher(limits: Limits, rates: RateLimits, gate: &Gate) -> Dispatcher {
    let registry = Registry::builder()
        .action::<wait>()
        .event::<Done>()
        .build()
        .unwrap();
    Dispatcher::builder()
        .registry(registry)
        .limits(limits)
        .rate_limits(rates)
        .state(gate.clone())
        .build()
        .unwrap()
}

fn guests(adapter: &dyn Adapter, dispatcher: &Dispatcher) -> Server {
    adapter.spawn(
        dispatcher.clone(),
        HandshakePolicy::deny_all().allow_guests(),
    )
}

pub(crate) async fn actions_over_the_rate_limit_get_a_429_and_persisting_closes_with_1008(
    adapter: &dyn Adapter,
) {
    let rates = RateLimits::default()
        .per_connection(Rate::per_second(1).with_burst(3))
        .close_after(3);
    let dispatcher = dispatcher(Limits::default(), rates, &Gate::default());
    let server = guests(adapter, &dispatcher);
    let mut client = server.connect().await;
    for _ in 0..3 {
        assert_eq!(client.request("health", json!({})).await["event"], "health");
    }
    // Three refusals are allowed; the fourth is answered, then the connection is closed.
    for _ in 0..4 {
        let problem = client.request("health", json!({})).await;
        assert_eq!(problem["code"], "rate_limited");
        assert_eq!(problem["status"], 429);
        assert!(problem["retry_after_ms"].as_u64().unwrap() > 0, "{problem}");
    }
    assert_eq!(client.close_code().await, 1008);
}

pub(crate) async fn upgrades_over_the_per_address_rate_get_a_429_with_retry_after(
    adapter: &dyn Adapter,
) {
    let rates = RateLimits::default().upgrades_per_address(Rate::per_second(1).with_burst(2));
    let dispatcher = dispatcher(Limits::default(), rates, &Gate::default());
    let server = guests(adapter, &dispatcher);
    for _ in 0..2 {
        assert_eq!(server.raw_upgrade("/ws/", &[]).await.status, 101);
    }
    let refused = server.raw_upgrade("/ws/", &[]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.json()["code"], "rate_limited");
}

pub(crate) async fn connections_over_the_limits_are_refused_with_problems(adapter: &dyn Adapter) {
    let limits = Limits::default()
        .with_max_connections_per_user(2)
        .with_max_connections(3);
    let dispatcher = dispatcher(limits, RateLimits::off(), &Gate::default());
    let policy = HandshakePolicy::deny_all().allow_guests().authenticate(
        |request: HandshakeRequest| async move {
            request
                .token()
                .map(str::to_owned)
                .ok_or_else(Problem::unauthenticated)
        },
    );
    let server = adapter.spawn(dispatcher.clone(), policy);
    let as_ada = [("Sec-WebSocket-Protocol", "access-token, ada")];
    let _ada_1 = server.connect_with("/ws/", Some("access-token, ada")).await;
    let _ada_2 = server.connect_with("/ws/", Some("access-token, ada")).await;
    let third = server.raw_upgrade("/ws/", &as_ada).await;
    assert_eq!(third.status, 429);
    assert_eq!(third.json()["code"], "too_many_connections");
    let _guest = server.connect().await;
    let full = server.raw_upgrade("/ws/", &[]).await;
    assert_eq!(full.status, 503);
    assert_eq!(full.json()["code"], "server_full");
}

pub(crate) async fn a_slow_authenticator_gets_a_408(adapter: &dyn Adapter) {
    let limits = Limits::default().with_handshake_timeout(Duration::from_millis(100));
    let dispatcher = dispatcher(limits, RateLimits::off(), &Gate::default());
    let never = HandshakePolicy::deny_all().authenticate(|_: HandshakeRequest| async {
        std::future::pending::<Result<String, Problem>>().await
    });
    let server = adapter.spawn(dispatcher, never);
    let refused = server.raw_upgrade("/ws/", &[]).await;
    assert_eq!(refused.status, 408);
    assert_eq!(refused.json()["code"], "handshake_timed_out");
}

pub(crate) async fn a_page_of_another_origin_or_an_unreadable_origin_is_refused(
    adapter: &dyn Adapter,
) {
    let dispatcher = dispatcher(Limits::default(), RateLimits::off(), &Gate::default());
    let server = guests(adapter, &dispatcher);
    let other = server
        .raw_upgrade("/ws/", &[("Origin", "https://evil.example")])
        .await;
    assert_eq!(other.status, 403);
    assert_eq!(other.json()["code"], "origin_not_allowed");
    let same = format!("http://{}", server.addr);
    assert_eq!(
        server
            .raw_upgrade("/ws/", &[("Origin", &same)])
            .await
            .status,
        101
    );
    // The same origin with a byte that is not ASCII appended: unreadable, so refused.
    let mut request = format!(
        "GET /ws/ HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Origin: http://{addr}",
        addr = server.addr
    )
    .into_bytes();
    request.extend_from_slice(b"\x80\r\n\r\n");
    let unreadable = http::send_bytes(server.addr, &request).await;
    assert_eq!(unreadable.status, 403);
    assert_eq!(unreadable.json()["code"], "origin_not_allowed");
}

pub(crate) async fn shutdown_finishes_the_running_request_then_closes_with_1001(
    adapter: &dyn Adapter,
) {
    let gate = Gate::default();
    let dispatcher = dispatcher(Limits::default(), RateLimits::off(), &gate);
    let server = guests(adapter, &dispatcher);
    let mut busy = server.connect().await;
    let mut idle = server.connect().await;
    busy.send_text(&envelope("wait", json!({}))).await;
    until("the request is running", || gate.started() == 1).await;
    let shutting_down = dispatcher.clone();
    let shutdown =
        tokio::spawn(async move { shutting_down.shutdown(Duration::from_secs(10)).await });
    assert_eq!(idle.close_code().await, 1001);
    let refused = server.raw_upgrade("/ws/", &[]).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["code"], "shutting_down");
    // The running request finishes, and its reply is sent before the close frame.
    gate.release.notify_waiters();
    assert_eq!(busy.recv().await["event"], "done");
    assert_eq!(busy.close_code().await, 1001);
    let report = shutdown.await.unwrap();
    assert_eq!((report.closed, report.dropped), (2, 0));
}

pub(crate) async fn shutdown_drops_what_is_still_open_at_the_deadline(adapter: &dyn Adapter) {
    let gate = Gate::default();
    let dispatcher = dispatcher(Limits::default(), RateLimits::off(), &gate);
    let server = guests(adapter, &dispatcher);
    let mut stuck = server.connect().await;
    stuck.send_text(&envelope("wait", json!({}))).await;
    until("the request is running", || gate.started() == 1).await;
    let report = dispatcher.shutdown(Duration::from_millis(200)).await;
    assert_eq!((report.closed, report.dropped), (0, 1));
    assert_eq!(dispatcher.stats().connections, 0);
    assert!(
        stuck.next_message().await.is_none(),
        "dropped without a close frame"
    );
}

pub(crate) async fn a_huge_unknown_action_name_is_not_repeated_whole(adapter: &dyn Adapter) {
    let dispatcher = dispatcher(Limits::default(), RateLimits::off(), &Gate::default());
    let server = guests(adapter, &dispatcher);
    let mut client = server.connect().await;
    let name = "x".repeat(1 << 20);
    let problem = client.request(&name, json!({})).await;
    assert_eq!(problem["code"], "unknown_websocket_action");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.len() < 200, "{} bytes", detail.len());
    assert!(detail.contains("xxx…'"), "{detail}");
}

pub(crate) async fn a_connection_that_sends_no_request_is_closed_after_the_handshake_timeout(
    adapter: &dyn Adapter,
) {
    use tokio::io::AsyncReadExt;
    let limits = Limits::default().with_handshake_timeout(Duration::from_millis(200));
    let dispatcher = dispatcher(limits, RateLimits::off(), &Gate::default());
    let server = guests(adapter, &dispatcher);
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // The server ends the connection (axum closes it; actix answers 408 first).
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(beeflow_tests::TIMEOUT, silent.read_to_end(&mut answer)).await;
    assert!(
        ended.is_ok(),
        "still open after {:?}",
        beeflow_tests::TIMEOUT
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

pub(crate) async fn oversized_request_headers_get_a_431_problem(adapter: &dyn Adapter) {
    let dispatcher = dispatcher(Limits::default(), RateLimits::off(), &Gate::default());
    let server = guests(adapter, &dispatcher);
    let cookie = format!("session={}", "x".repeat(40 << 10));
    let refused = server.raw_upgrade("/ws/", &[("Cookie", &cookie)]).await;
    assert_eq!(refused.status, 431);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["code"], "headers_too_large");
}
