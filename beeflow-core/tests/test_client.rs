//! The in-memory test client itself: receiving with a bound, and connecting through a
//! handshake policy the way an adapter does.

use std::time::Duration;

use beeflow_core::testing::TestClient;
use beeflow_core::{
    Dispatcher, Event, HandshakePolicy, HandshakeRequest, Identity, Problem, Recipient, Registry,
    action,
};
use serde::Serialize;
use serde_json::json;

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "whoami", register = false)]
struct WhoAmI {
    user: String,
}

#[action(name = "whoami", register = false)]
async fn whoami(Identity(user): Identity<String>) -> WhoAmI {
    WhoAmI { user }
}

fn dispatcher() -> Dispatcher {
    let registry = Registry::builder()
        .action::<whoami>()
        .event::<WhoAmI>()
        .build()
        .unwrap();
    Dispatcher::builder().registry(registry).build().unwrap()
}

fn policy() -> HandshakePolicy {
    HandshakePolicy::deny_all().authenticate(|request: HandshakeRequest| async move {
        match request.token() {
            Some("alice-token") => Ok("alice".to_owned()),
            _ => Err(Problem::unauthenticated().with_detail("Unknown token.")),
        }
    })
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "no frame for this connection within 5s")]
async fn recv_gives_up_after_its_timeout() {
    let dispatcher = dispatcher();
    let mut client = TestClient::connect(&dispatcher);
    client.recv().await;
}

#[tokio::test(start_paused = true)]
async fn recv_within_tells_nothing_from_something() {
    let dispatcher = dispatcher();
    let mut client = TestClient::connect(&dispatcher).with_recv_timeout(Duration::from_secs(1));
    assert_eq!(client.recv_within(Duration::from_millis(100)).await, None);
    let recipient = Recipient::connection(client.connection_id());
    let event = WhoAmI {
        user: "system".into(),
    };
    dispatcher.emit(recipient, &event).await.unwrap();
    let frame = client.recv().await;
    assert_eq!(frame["event"], "whoami");
    assert_eq!(frame["payload"]["user"], "system");
}

#[tokio::test]
async fn handshake_runs_the_policy() {
    let dispatcher = dispatcher();
    let policy = policy();
    let refused = TestClient::handshake(&dispatcher, &policy, "mallory-token")
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.detail(), "Unknown token.");
    let mut alice = TestClient::handshake(&dispatcher, &policy, "alice-token")
        .await
        .unwrap();
    let frames = alice.send("whoami", json!({})).await;
    assert_eq!(frames[0]["payload"]["user"], "alice", "{frames:?}");
}

#[tokio::test]
async fn handshake_applies_the_origin_check() {
    let dispatcher = dispatcher();
    let policy = policy();
    let refused = TestClient::handshake_with_headers(
        &dispatcher,
        &policy,
        &[
            ("Origin", "https://evil.example"),
            ("Sec-WebSocket-Protocol", "access-token, alice-token"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status(), 403);
}
