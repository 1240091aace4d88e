//! Metrics over real sockets: a server whose dispatcher was built under a Prometheus
//! recorder counts what its clients did, labelled by name, never by id.

use std::net::SocketAddr;

use beeflow_core::{Dispatcher, HandshakePolicy, Limits, Rate, RateLimits, Registry};
use beeflow_tests::{TIMEOUT, http, raw::RawSocket, until};
use futures_util::{SinkExt, StreamExt};
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn envelope(action: &str) -> String {
    json!({
        "msg_id": uuid::Uuid::new_v4(),
        "req_id": uuid::Uuid::new_v4(),
        "action": action,
        "payload": {},
    })
    .to_string()
}

/// The value of the sample line that starts with `series` (name and labels, exactly as
/// rendered), or 0 when there is none.
fn sample(rendered: &str, series: &str) -> f64 {
    rendered
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_counts_connections_actions_closes_and_refusals() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    // The dispatcher takes its handles from the recorder in place when it is built.
    let dispatcher = metrics::with_local_recorder(&recorder, || {
        Dispatcher::builder()
            .registry(Registry::builder().build().unwrap())
            .limits(Limits::default().with_max_connections(2))
            .rate_limits(RateLimits::default().per_connection(Rate::per_second(1).with_burst(2)))
            .build()
            .unwrap()
    });
    let endpoint = beeflow_axum::Endpoint::new(dispatcher.clone())
        .policy(HandshakePolicy::deny_all().allow_guests());
    let app = axum::Router::new().route("/ws/", endpoint.into_route());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = tokio::spawn(beeflow_axum::serve(
        listener,
        app,
        dispatcher.clone(),
        std::future::pending(),
    ));

    let url = format!("ws://{addr}/ws/");
    let (mut client, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(&url))
        .await
        .unwrap()
        .unwrap();
    let _other = RawSocket::connect(addr, "/ws/").await;
    // Two health requests pass, a third is over the burst; an unknown action is counted
    // under `unknown`, never under its name.
    for action in ["health", "health", "health", "no-such-action-42"] {
        client.send(Message::text(envelope(action))).await.unwrap();
    }
    let mut replies = Vec::new();
    while replies.len() < 4 {
        if let Message::Text(text) = client.next().await.unwrap().unwrap() {
            replies.push(serde_json::from_str::<Value>(&text).unwrap());
        }
    }
    assert_eq!(replies[2]["code"], "rate_limited");
    // The node is full: a third connection is refused.
    assert_eq!(http::get(addr, "/ws/").await.status, 400);
    client.close(None).await.unwrap();
    while client.next().await.is_some() {}
    until("the connection left", || {
        dispatcher.stats().connections == 1
    })
    .await;

    let rendered = prometheus.render();
    let count = |series: &str| sample(&rendered, series);
    assert_eq!(count("beeflow_connections"), 1.0, "{rendered}");
    assert_eq!(count("beeflow_connections_accepted_total"), 2.0);
    assert_eq!(
        count(r#"beeflow_actions_total{action="health",outcome="ok"}"#),
        2.0
    );
    assert_eq!(
        count(r#"beeflow_actions_total{action="health",outcome="rate_limited"}"#),
        1.0
    );
    assert_eq!(count(r#"beeflow_events_sent_total{event="health"}"#), 2.0);
    assert_eq!(count(r#"beeflow_closes_total{code="client"}"#), 1.0);
    assert_eq!(
        count(r#"beeflow_upgrades_refused_total{code="websocket_upgrade_required"}"#),
        1.0
    );
    assert!(!rendered.contains("no-such-action-42"), "{rendered}");
    assert!(
        count(r#"beeflow_action_duration_seconds_count{action="health"}"#) >= 2.0,
        "{rendered}"
    );
    server.abort();
}
