//! Delivery over real sockets: the chat example served on 127.0.0.1, real WebSocket
//! clients, pushes from an HTTP handler and from a timer, and a client that stops reading.

use std::net::SocketAddr;
use std::time::Duration;

use beeflow_core::{Dispatcher, Limits, Recipient};
use beeflow_tests::{TIMEOUT, http, until};
use example_chat::actions::{Announcement, EVERYONE};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn serve(dispatcher: Dispatcher) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = example_chat::app(dispatcher);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn connect(addr: SocketAddr, nick: &str) -> Socket {
    let mut request = format!("ws://{addr}/ws/").into_client_request().unwrap();
    let protocols = HeaderValue::from_str(&format!("access-token, {nick}")).unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols);
    let (socket, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake timed out")
        .expect("handshake failed");
    socket
}

async fn send(socket: &mut Socket, action: &str, payload: Value) {
    let text = json!({"msg_id": Uuid::new_v4(), "req_id": Uuid::new_v4(), "action": action, "payload": payload});
    socket
        .send(Message::Text(text.to_string().into()))
        .await
        .unwrap();
}

async fn recv(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(TIMEOUT, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).unwrap(),
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Sends an action and waits for the named event that answers it.
async fn request(socket: &mut Socket, action: &str, payload: Value, answer: &str) -> Value {
    send(socket, action, payload).await;
    let frame = recv(socket).await;
    assert_eq!(frame["event"], answer, "{frame}");
    frame
}

async fn join(socket: &mut Socket, room: &str) {
    request(socket, "join_room", json!({"room": room}), "joined").await;
}

#[tokio::test]
async fn rooms_whispers_and_several_connections_per_user() {
    let addr = serve(Dispatcher::builder().build().unwrap()).await;
    let mut ada_phone = connect(addr, "ada").await;
    let mut ada_laptop = connect(addr, "ada").await;
    let mut bob = connect(addr, "bob").await;
    join(&mut ada_phone, "lobby").await;
    join(&mut bob, "lobby").await;

    send(&mut bob, "say", json!({"room": "lobby", "text": "hello"})).await;
    for socket in [&mut bob, &mut ada_phone] {
        let message = recv(socket).await;
        assert_eq!(message["event"], "message");
        assert_eq!(
            message["payload"],
            json!({"room": "lobby", "from": "bob", "text": "hello"})
        );
        assert_eq!(message["recipient"], "group");
    }

    send(&mut bob, "whisper", json!({"to": "ada", "text": "psst"})).await;
    for socket in [&mut ada_phone, &mut ada_laptop] {
        let whisper = recv(socket).await;
        assert_eq!(whisper["payload"], json!({"from": "bob", "text": "psst"}));
        assert_eq!(whisper["recipient_id"], "ada");
    }
    // The laptop never joined the lobby: its first event was the whisper.
    send(&mut ada_laptop, "health", json!({})).await;
    assert_eq!(recv(&mut ada_laptop).await["seq"], 2);

    request(
        &mut ada_phone,
        "leave_room",
        json!({"room": "lobby"}),
        "left",
    )
    .await;
    send(&mut bob, "say", json!({"room": "lobby", "text": "anyone?"})).await;
    assert_eq!(recv(&mut bob).await["payload"]["text"], "anyone?");
    send(&mut ada_phone, "health", json!({})).await;
    assert_eq!(
        recv(&mut ada_phone).await["event"],
        "health",
        "no lobby message for ada"
    );
}

#[tokio::test]
async fn a_push_from_an_http_handler_reaches_everyone() {
    let dispatcher = Dispatcher::builder().build().unwrap();
    let addr = serve(dispatcher.clone()).await;
    let mut a = connect(addr, "a").await;
    let mut b = connect(addr, "b").await;
    join(&mut a, EVERYONE).await;
    join(&mut b, EVERYONE).await;

    let response = http::post_json(addr, "/announce", r#"{"text":"maintenance at noon"}"#).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["delivered"], 2, "{response:?}");
    for socket in [&mut a, &mut b] {
        let announcement = recv(socket).await;
        assert_eq!(announcement["event"], "announcement");
        assert!(announcement.get("req_id").is_none(), "a push has no req_id");
        assert_eq!(announcement["payload"]["text"], "maintenance at noon");
    }
}

#[tokio::test]
async fn the_timer_pushes_the_clock() {
    let dispatcher = Dispatcher::builder().build().unwrap();
    let addr = serve(dispatcher.clone()).await;
    let clock = example_chat::spawn_clock(dispatcher, Duration::from_millis(50));
    let mut a = connect(addr, "a").await;
    join(&mut a, EVERYONE).await;
    let tick = recv(&mut a).await;
    clock.abort();
    assert_eq!(tick["event"], "clock");
    assert!(tick["payload"]["unix_seconds"].as_u64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_others_keep_receiving() {
    let limits = Limits::default().with_outbound_queue_bytes(256 << 10);
    let dispatcher = Dispatcher::builder().limits(limits).build().unwrap();
    let addr = serve(dispatcher.clone()).await;
    let mut slow = connect(addr, "slow").await;
    let mut fast = connect(addr, "fast").await;
    join(&mut slow, EVERYONE).await;
    join(&mut fast, EVERYONE).await;
    assert_eq!(dispatcher.stats().connections, 2);

    // 64 KiB announcements, far more than the socket buffers and the queue hold.
    let text = "x".repeat(64 << 10);
    const PUSHES: usize = 400;
    let reader = tokio::spawn(async move {
        for n in 0..PUSHES {
            let frame = recv(&mut fast).await;
            assert_eq!(frame["event"], "announcement");
            assert_eq!(frame["seq"], n + 2, "gap-free for the reading client");
        }
        fast
    });
    let mut dropped = 0;
    for _ in 0..PUSHES {
        let event = Announcement { text: text.clone() };
        let report = dispatcher
            .emit(Recipient::group(EVERYONE), &event)
            .await
            .unwrap();
        dropped += report.dropped;
        // Let the writers run, as a server under real load would.
        tokio::task::yield_now().await;
    }
    let fast = tokio::time::timeout(TIMEOUT, reader)
        .await
        .unwrap()
        .unwrap();
    assert!(dropped > 0, "the slow client's queue overflowed");

    // The server gave up on the slow connection and forgot it...
    until("the slow client is disconnected", || {
        dispatcher.stats().connections == 1
    })
    .await;
    // ...and when the client reads again it finds the end of the connection, not a hang.
    let ended = tokio::time::timeout(TIMEOUT, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the slow connection ended");
    assert!(matches!(ended, None | Some(1008)), "{ended:?}");
    drop(fast);
}

async fn connect_v2(addr: SocketAddr, nick: &str) -> Socket {
    let mut request = format!("ws://{addr}/ws/").into_client_request().unwrap();
    let protocols = HeaderValue::from_str(&format!("beeflow.v2, access-token, {nick}")).unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols);
    let (socket, response) =
        tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("handshake timed out")
            .expect("handshake failed");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "beeflow.v2",
        "the chat speaks version 2"
    );
    socket
}

/// Sends an action and returns its frames up to its completion or Problem.
async fn call(socket: &mut Socket, action: &str, payload: Value) -> Vec<Value> {
    let req_id = Uuid::new_v4();
    let text =
        json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": action, "payload": payload});
    socket
        .send(Message::Text(text.to_string().into()))
        .await
        .unwrap();
    let mut frames = Vec::new();
    loop {
        let frame = recv(socket).await;
        let ends = frame["req_id"] == req_id.to_string()
            && (frame.get("done").is_some() || frame.get("code").is_some());
        frames.push(frame);
        if ends {
            return frames;
        }
    }
}

#[tokio::test]
async fn the_chat_on_version_2_rooms_are_subscriptions_with_presence() {
    let addr = serve(example_chat::dispatcher().build().unwrap()).await;
    let mut ada = connect_v2(addr, "ada").await;
    let entered = call(
        &mut ada,
        "beeflow.subscribe",
        json!({"topic": "lobby", "presence": true}),
    )
    .await;
    assert_eq!(entered[0]["event"], "beeflow.presence");
    assert_eq!(
        entered[0]["payload"]["members"],
        json!([{"user": "ada", "connections": 1}])
    );

    let mut bob = connect_v2(addr, "bob").await;
    let bob_enters = json!({"topic": "lobby", "presence": true});
    assert_eq!(
        call(&mut bob, "beeflow.subscribe", bob_enters).await.len(),
        2
    );
    let joined = recv(&mut ada).await;
    assert_eq!(joined["event"], "beeflow.join");
    assert_eq!(joined["payload"], json!({"topic": "lobby", "user": "bob"}));

    // `say` still goes to the room's group; the sender need not be in it.
    let mut cyd = connect_v2(addr, "cyd").await;
    let said = call(&mut cyd, "say", json!({"room": "lobby", "text": "hi"})).await;
    assert_eq!(said.last().unwrap()["done"], json!({"events": 1}));
    let message = recv(&mut ada).await;
    assert_eq!(
        message["payload"],
        json!({"room": "lobby", "from": "cyd", "text": "hi"})
    );
    assert_eq!(recv(&mut bob).await["payload"]["text"], "hi");

    // Any topic of 1 to 64 bytes, patterns too; longer ones are refused.
    let pattern = call(&mut cyd, "beeflow.subscribe", json!({"topic": "room.*"})).await;
    assert_eq!(pattern[0]["done"], json!({"events": 0}));
    let long = "x".repeat(65);
    let refused = call(&mut cyd, "beeflow.subscribe", json!({"topic": long})).await;
    assert_eq!(refused[0]["code"], "subscription_denied");

    drop(bob);
    let left = recv(&mut ada).await;
    assert_eq!(left["event"], "beeflow.leave");
    assert_eq!(left["payload"]["user"], "bob");
}
