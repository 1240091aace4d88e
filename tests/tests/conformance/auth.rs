//! The upgrade handshake: tokens, subprotocols, origins and Problem Details responses.

use beeflow_core::{Dispatcher, Registry};
use beeflow_core::{HandshakePolicy, HandshakeRequest, Problem};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::adapters::Adapter;
use crate::support::{Server, TIMEOUT};

fn strict_server(adapter: &dyn Adapter) -> Server {
    let dispatcher = Dispatcher::builder()
        .registry(Registry::builder().build().unwrap())
        .problem_type_base("https://example.com/problems")
        .build()
        .unwrap();
    let policy = HandshakePolicy::deny_all()
        .authenticate(|request: HandshakeRequest| async move {
            match request.token() {
                Some("s3cret") => Ok(1_u64),
                _ => Err(Problem::unauthenticated()),
            }
        })
        .allowed_origins(["https://app.example.com"]);
    adapter.spawn(dispatcher, policy)
}

pub(crate) async fn token_in_subprotocol_is_accepted_and_only_the_marker_is_echoed(
    adapter: &dyn Adapter,
) {
    let server = strict_server(adapter);
    let mut client = server
        .connect_with("/ws/", Some("access-token, s3cret"))
        .await;
    assert_eq!(client.protocol.as_deref(), Some("access-token"));
    assert_eq!(client.request("health", json!({})).await["event"], "health");
}

pub(crate) async fn missing_or_wrong_token_is_a_401_problem(adapter: &dyn Adapter) {
    let server = strict_server(adapter);
    for protocols in [None, Some("access-token, wrong"), Some("s3cret")] {
        let headers: Vec<(&str, &str)> = protocols
            .map(|p| ("Sec-WebSocket-Protocol", p))
            .into_iter()
            .collect();
        let response = server.raw_upgrade("/ws/", &headers).await;
        assert_eq!(response.status, 401, "{protocols:?}");
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json")
        );
        let problem = response.json();
        assert_eq!(problem["status"], 401);
        assert_eq!(problem["code"], "unauthenticated");
        assert_eq!(
            problem["type"],
            "https://example.com/problems/unauthenticated"
        );
        assert_eq!(problem["instance"], "/ws/");
        assert!(!response.body.contains("wrong"));
    }
}

pub(crate) async fn query_token_is_ignored_unless_opted_in(adapter: &dyn Adapter) {
    let server = strict_server(adapter);
    let response = server.raw_upgrade("/ws/?access_token=s3cret", &[]).await;
    assert_eq!(response.status, 401);
}

pub(crate) async fn disallowed_origin_is_a_403_problem(adapter: &dyn Adapter) {
    let server = strict_server(adapter);
    let response = server
        .raw_upgrade(
            "/ws/",
            &[
                ("Origin", "https://evil.example"),
                ("Sec-WebSocket-Protocol", "access-token, s3cret"),
            ],
        )
        .await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(response.json()["code"], "origin_not_allowed");
    let allowed = server
        .raw_upgrade(
            "/ws/",
            &[
                ("Origin", "https://app.example.com"),
                ("Sec-WebSocket-Protocol", "access-token, s3cret"),
            ],
        )
        .await;
    assert_eq!(allowed.status, 101);
    assert_eq!(
        allowed.header("sec-websocket-protocol"),
        Some("access-token")
    );
}

pub(crate) async fn a_plain_http_request_gets_a_problem_not_an_upgrade(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let response = raw_request(
        &server,
        "GET /ws/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{response}"
    );
    let body = &response[response.find("\r\n\r\n").expect("a head") + 4..];
    let problem: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(
        problem,
        json!({
            "type": "about:blank",
            "title": "WebSocket upgrade required",
            "status": 400,
            "detail": "Connection header did not include 'upgrade'",
            "code": "websocket_upgrade_required",
            "instance": "/ws/",
        })
    );
}

pub(crate) async fn other_methods_are_not_allowed(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let response = raw_request(
        &server,
        "POST /ws/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
}

/// Sends `request` as is and reads the response until the server closes the connection.
async fn raw_request(server: &Server, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_string(&mut response))
        .await
        .expect("the server closes the connection")
        .unwrap();
    response
}

pub(crate) async fn quickstart_identity_reaches_handlers(adapter: &dyn Adapter) {
    let server = adapter.quickstart(None);
    let mut guest = server.connect().await;
    assert_eq!(guest.protocol, None);
    assert_eq!(
        guest.request("whoami", json!({})).await["payload"]["name"],
        "guest"
    );
    let mut user = server
        .connect_with(
            "/ws/",
            Some(&format!("access-token, {}", example_quickstart::DEMO_TOKEN)),
        )
        .await;
    assert_eq!(
        user.request("whoami", json!({})).await["payload"]["name"],
        "demo"
    );
}
