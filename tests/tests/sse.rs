//! Server-Sent Events over real HTTP on 127.0.0.1: streams read raw (as `curl --no-buffer`
//! would), actions POSTed beside them, resuming with `Last-Event-ID`, refusals as Problems,
//! keepalive comments, both adapters, and an action POSTed to one node for a stream held
//! by another.

use std::net::SocketAddr;
use std::time::Duration;

use beeflow_core::broker::MemoryBroker;
use beeflow_core::{Dispatcher, Limits};
use beeflow_tests::http;
use beeflow_tests::sse::SseClient;
use serde_json::{Value, json};

async fn serve_chat(dispatcher: Dispatcher) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = example_chat::app(dispatcher);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn chat() -> SocketAddr {
    serve_chat(example_chat::dispatcher().build().unwrap()).await
}

fn envelope(action: &str, payload: Value) -> String {
    json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "req_id": uuid::Uuid::new_v4().to_string(),
        "action": action,
        "payload": payload,
    })
    .to_string()
}

/// POSTs `body` to `/sse/` for `session`, as `token`.
async fn post(addr: SocketAddr, session: &str, token: &str, body: &str) -> http::Response {
    let request = format!(
        "POST /sse/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Beeflow-Session: {session}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http::send(addr, &request).await
}

/// Opens a stream as `token` on `topics`, and reads its session.
async fn stream(addr: SocketAddr, token: &str, query: &str, extra: &[&str]) -> (SseClient, String) {
    let auth = format!("Authorization: Bearer {token}");
    let mut headers = vec![auth.as_str()];
    headers.extend_from_slice(extra);
    let mut client = SseClient::open(addr, &format!("/sse/{query}"), &headers).await;
    assert_eq!(client.status, 200);
    assert_eq!(client.header("content-type"), Some("text/event-stream"));
    let first = client.next_event().await.expect("the session event");
    assert_eq!(first.event.as_deref(), Some("beeflow.session"));
    let session = first.json()["session"].as_str().unwrap().to_owned();
    (client, session)
}

/// The next event that is a frame (not a completion), as JSON with its SSE id.
async fn next_frame(client: &mut SseClient) -> (Value, Option<String>) {
    loop {
        let event = client.next_event().await.expect("an event");
        let frame = event.json();
        if frame.get("done").is_none() {
            return (frame, event.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_carries_the_replies_to_posted_actions_and_its_topics_events() {
    let addr = chat().await;
    let (mut ann, session) = stream(addr, "ann", "?topic=lobby", &[]).await;
    // The subscription the query asked for completes first.
    let done = ann.next_event().await.unwrap().json();
    assert_eq!(done["done"]["events"], 0, "{done}");

    let response = post(
        addr,
        &session,
        "ann",
        &envelope("say", json!({"room": "lobby", "text": "hello"})),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body);
    let (message, id) = next_frame(&mut ann).await;
    assert_eq!(message["event"], "message");
    assert_eq!(
        message["payload"],
        json!({"room": "lobby", "from": "ann", "text": "hello"})
    );
    assert_eq!(message["seq"], 1);
    assert!(message["offset"].is_u64(), "a version-2 frame: {message}");
    let id = id.expect("a positioned event has an id");
    assert!(id.starts_with("group%3Alobby="), "{id}");

    // A reply to the requester only, and a Problem for a bad payload, on the stream too.
    post(
        addr,
        &session,
        "ann",
        &envelope("whisper", json!({"to": "ann", "text": "psst"})),
    )
    .await;
    let (whisper, _) = next_frame(&mut ann).await;
    assert_eq!(whisper["event"], "whisper");
    post(addr, &session, "ann", &envelope("say", json!({"room": 5}))).await;
    let (problem, _) = next_frame(&mut ann).await;
    assert_eq!(problem["code"], "invalid_action_payload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resumes_a_dropped_stream_with_what_it_missed() {
    let addr = chat().await;
    let (mut ann, session) = stream(addr, "ann", "?topic=den", &[]).await;
    ann.next_event().await.unwrap(); // the subscription's completion
    post(
        addr,
        &session,
        "ann",
        &envelope("say", json!({"room": "den", "text": "one"})),
    )
    .await;
    let (_, id) = next_frame(&mut ann).await;
    let id = id.unwrap();
    drop(ann);

    // Said while ann is away, by a stream of bob's.
    let (mut bob, bob_session) = stream(addr, "bob", "?topic=den", &[]).await;
    bob.next_event().await.unwrap();
    for text in ["two", "three"] {
        post(
            addr,
            &bob_session,
            "bob",
            &envelope("say", json!({"room": "den", "text": text})),
        )
        .await;
        next_frame(&mut bob).await;
    }

    let last = format!("Last-Event-ID: {id}");
    let (mut ann, _) = stream(addr, "ann", "?topic=den", &[&last]).await;
    let mut missed = Vec::new();
    let recovered = loop {
        let frame = ann.next_event().await.unwrap().json();
        match frame.get("done") {
            Some(done) => break done["recovered"].clone(),
            None => missed.push(frame["payload"]["text"].clone()),
        }
    };
    assert_eq!(recovered, json!(true));
    assert_eq!(missed, [json!("two"), json!("three")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_problems() {
    let addr = chat().await;
    let refused = SseClient::open(addr, "/sse/", &[]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    let (_ann, session) = stream(addr, "ann", "", &[]).await;
    let health = envelope("health", json!({}));
    let unknown = post(addr, "nope~0", "ann", &health).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["code"], "session_not_found");
    let stolen = post(addr, &session, "eve", &health).await;
    assert_eq!(stolen.status, 404, "another user's session is not found");
    // The same key with its secret's last digit changed.
    let (kept, last) = session.split_at(session.len() - 1);
    let other = if last == "0" { "1" } else { "0" };
    let forged = post(addr, &format!("{kept}{other}"), "ann", &health).await;
    assert_eq!(forged.status, 404);
    let large = "x".repeat(Limits::default().max_message_size() + 1);
    let too_large = post(addr, &session, "ann", &large).await;
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json()["code"], "request_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_gets_keepalive_comments() {
    let limits = Limits::default().with_keepalive_interval(Duration::from_millis(200));
    let addr = serve_chat(example_chat::dispatcher().limits(limits).build().unwrap()).await;
    let (mut ann, _) = stream(addr, "ann", "", &[]).await;
    let comment = ann.next().await.unwrap();
    assert_eq!(comment.comment.as_deref(), Some("keepalive"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actix_adapter_streams_too() {
    let server = beeflow_tests::actix::ActixQuickstart::start();
    let (addr, token) = (server.addr, example_demo_actions::DEMO_TOKEN);
    let (mut client, session) = stream(addr, token, "", &[]).await;
    let response = post(
        addr,
        &session,
        token,
        &envelope("echo", json!({"text": "hi"})),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body);
    let (echo, _) = next_frame(&mut client).await;
    assert_eq!(echo["payload"], json!({"text": "hi"}));
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_posted_to_one_node_reaches_a_stream_held_by_another() {
    let broker = MemoryBroker::new();
    let node = |broker: &MemoryBroker| {
        example_chat::dispatcher()
            .broker(broker.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (
        serve_chat(node(&broker)).await,
        serve_chat(node(&broker)).await,
    );
    let (mut on_b, session) = stream(b, "ann", "", &[]).await;
    let response = post(
        a,
        &session,
        "ann",
        &envelope("whisper", json!({"to": "ann", "text": "via a"})),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body);
    let (whisper, _) = next_frame(&mut on_b).await;
    assert_eq!(whisper["payload"], json!({"from": "ann", "text": "via a"}));
    // A session on a node nobody runs: not found.
    let gone = session.replace('~', ".999~");
    assert_eq!(
        post(a, &gone, "ann", &envelope("health", json!({})))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_client_stops_reading_is_ended() {
    let limits = Limits::default()
        .with_outbound_queue(16)
        .with_write_timeout(Duration::from_millis(300));
    let dispatcher = example_chat::dispatcher().limits(limits).build().unwrap();
    let addr = serve_chat(dispatcher.clone()).await;
    // Opened and never read again: the events pile up in the socket, then in the queue.
    let (_stalled, _) = stream(addr, "ann", "?topic=everyone", &[]).await;
    assert_eq!(dispatcher.stats().connections, 1);
    let text = "x".repeat(4_000);
    let announcement = example_chat::actions::Announcement { text };
    for _ in 0..2_000 {
        dispatcher
            .emit(beeflow_core::Recipient::group("everyone"), &announcement)
            .await
            .unwrap();
        if dispatcher.stats().connections == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    beeflow_tests::until("the stalled stream is dropped", || {
        dispatcher.stats().connections == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_actions_count_against_the_action_rate_not_the_upgrade_rate() {
    // Served as the chat binary serves, so the per-address limits see client addresses.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_chat::dispatcher().build().unwrap();
    tokio::spawn(example_chat::serve(listener, dispatcher));
    let (mut ann, session) = stream(addr, "ann", "", &[]).await;
    // More than the 20 upgrades one address may burst, fewer than the 200 actions.
    for _ in 0..40 {
        let response = post(addr, &session, "ann", &envelope("health", json!({}))).await;
        assert_eq!(response.status, 202, "{}", response.body);
    }
    for _ in 0..40 {
        let (health, _) = next_frame(&mut ann).await;
        assert_eq!(health["event"], "health");
    }
}
