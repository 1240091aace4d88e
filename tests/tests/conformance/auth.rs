//! The upgrade handshake: tokens, subprotocols, origins and Problem Details responses.

use axum::Router;
use beeflow_axum::Endpoint;
use beeflow_core::handshake::{HandshakePolicy, HandshakeRequest, unauthenticated};
use beeflow_core::{Dispatcher, Registry};
use serde_json::json;

use crate::support::{Server, quickstart, serve};

async fn strict_server() -> Server {
    let dispatcher = Dispatcher::builder()
        .registry(Registry::builder().build().unwrap())
        .problem_type_base_url("https://example.com/problems")
        .build()
        .unwrap();
    let policy = HandshakePolicy::deny_all()
        .authenticate(|request: HandshakeRequest| async move {
            match request.token() {
                Some("s3cret") => Ok(1_u64),
                _ => Err(unauthenticated()),
            }
        })
        .allowed_origins(["https://app.example.com"]);
    let app = Router::new().route(
        "/ws/",
        Endpoint::new(dispatcher).policy(policy).into_route(),
    );
    serve(app).await
}

#[tokio::test]
async fn token_in_subprotocol_is_accepted_and_only_the_marker_is_echoed() {
    let server = strict_server().await;
    let mut client = server
        .connect_with("/ws/", Some("access-token, s3cret"))
        .await;
    assert_eq!(client.protocol.as_deref(), Some("access-token"));
    assert_eq!(client.request("health", json!({})).await["event"], "health");
}

#[tokio::test]
async fn missing_or_wrong_token_is_a_401_problem() {
    let server = strict_server().await;
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

#[tokio::test]
async fn query_token_is_ignored_unless_opted_in() {
    let server = strict_server().await;
    let response = server.raw_upgrade("/ws/?access_token=s3cret", &[]).await;
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn disallowed_origin_is_a_403_problem() {
    let server = strict_server().await;
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

#[tokio::test]
async fn a_plain_http_request_gets_a_problem_not_an_upgrade() {
    let server = quickstart(None).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /ws/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        crate::support::TIMEOUT,
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{response}"
    );
    assert!(
        response.contains("\"code\":\"websocket_upgrade_required\""),
        "{response}"
    );
}

#[tokio::test]
async fn quickstart_identity_reaches_handlers() {
    let server = quickstart(None).await;
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
