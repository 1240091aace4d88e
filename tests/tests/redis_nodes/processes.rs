//! Two separate node processes on one Redis, real WebSocket clients on each.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use beeflow_tests::redis::RedisServer;
use beeflow_tests::{TIMEOUT, http, until};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A node process; killed (by its PID) when dropped.
pub(crate) struct NodeProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
    node_id: String,
}

impl NodeProcess {
    pub(crate) fn start(redis: &RedisServer) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat-node"))
            .arg(redis.url())
            .stdout(Stdio::piped())
            .spawn()
            .expect("chat-node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the node prints its address");
        // "listening ADDR node ID"
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"listening"), "{line}");
        Self {
            addr: words[1].parse().expect("an address"),
            node_id: words[3].to_owned(),
            child,
        }
    }
}

impl NodeProcess {
    /// Kills the process with SIGKILL: it says goodbye to no one.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn connect(addr: SocketAddr, nick: &str) -> Socket {
    connect_offering(addr, &format!("access-token, {nick}")).await
}

/// A version-2 connection (`docs/protocol.md` §6.1).
async fn connect_v2(addr: SocketAddr, nick: &str) -> Socket {
    connect_offering(addr, &format!("beeflow.v2, access-token, {nick}")).await
}

async fn connect_offering(addr: SocketAddr, protocols: &str) -> Socket {
    let mut request = format!("ws://{addr}/ws/").into_client_request().unwrap();
    let protocols = HeaderValue::from_str(protocols).unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols);
    tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")
        .expect("handshake")
        .0
}

pub(crate) async fn send(socket: &mut Socket, action: &str, payload: Value) -> Uuid {
    let req_id = Uuid::new_v4();
    let text =
        json!({"msg_id": Uuid::new_v4(), "req_id": req_id, "action": action, "payload": payload});
    socket
        .send(Message::Text(text.to_string().into()))
        .await
        .unwrap();
    req_id
}

/// Sends a version-2 request and returns the frames that arrive until its completion, that
/// included (a recovery's replayed events belong to no request).
async fn request(socket: &mut Socket, action: &str, payload: Value) -> Vec<Value> {
    let req_id = send(socket, action, payload).await.to_string();
    let mut frames = Vec::new();
    loop {
        let message = tokio::time::timeout(TIMEOUT, socket.next())
            .await
            .expect("a frame in time");
        let Some(Ok(Message::Text(text))) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        let done = frame.get("done").is_some() && frame["req_id"] == req_id.as_str();
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

/// The next frame with event `event`, skipping the nodes' clock ticks.
pub(crate) async fn recv_event(socket: &mut Socket, event: &str) -> Value {
    loop {
        let message = tokio::time::timeout(TIMEOUT, socket.next())
            .await
            .expect("a frame in time");
        if let Some(Ok(Message::Text(text))) = message {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["event"] == event {
                return frame;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_node_processes_chat_across_redis() {
    let redis = RedisServer::start();
    let one = NodeProcess::start(&redis);
    let two = NodeProcess::start(&redis);
    assert_ne!(one.node_id, two.node_id);
    let mut ada = connect(one.addr, "ada").await;
    let mut bob = connect(two.addr, "bob").await;
    send(&mut ada, "join_room", json!({"room": "lobby"})).await;
    recv_event(&mut ada, "joined").await;
    send(&mut bob, "join_room", json!({"room": "lobby"})).await;
    recv_event(&mut bob, "joined").await;
    until("both nodes subscribed to the lobby", || {
        redis.subscribers("beeflow:group:lobby") == 2
    })
    .await;
    until("ada's node subscribed to ada", || {
        redis.subscribers("beeflow:user:ada") == 1
    })
    .await;

    send(
        &mut bob,
        "say",
        json!({"room": "lobby", "text": "hello from two"}),
    )
    .await;
    let message = recv_event(&mut ada, "message").await;
    assert_eq!(
        message["payload"],
        json!({"room": "lobby", "from": "bob", "text": "hello from two"})
    );

    send(&mut bob, "whisper", json!({"to": "ada", "text": "psst"})).await;
    assert_eq!(
        recv_event(&mut ada, "whisper").await["payload"]["from"],
        "bob"
    );

    // An HTTP push on node two reaches connections on node one.
    send(&mut ada, "join_room", json!({"room": "everyone"})).await;
    recv_event(&mut ada, "joined").await;
    until("node one subscribed to everyone", || {
        redis.subscribers("beeflow:group:everyone") == 1
    })
    .await;
    let response = http::post_json(two.addr, "/announce", r#"{"text":"from node two"}"#).await;
    assert_eq!(response.json()["published"], 1, "{response:?}");
    let announcement = recv_event(&mut ada, "announcement").await;
    assert_eq!(announcement["payload"]["text"], "from node two");
    assert!(announcement.get("req_id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_to_the_other_node_process_recovers_what_it_missed() {
    let mut redis = RedisServer::start();
    let one = NodeProcess::start(&redis);
    let two = NodeProcess::start(&redis);
    let mut bob = connect_v2(two.addr, "bob").await;
    let mut ada = connect_v2(one.addr, "ada").await;
    for client in [&mut ada, &mut bob] {
        let subscribed = request(client, "beeflow.subscribe", json!({"topic": "lobby"})).await;
        assert_eq!(subscribed.len(), 1, "{subscribed:?}");
    }
    until("both nodes subscribed to the lobby", || {
        redis.subscribers("beeflow:group:lobby") == 2
    })
    .await;
    let say = |text: &str| json!({"room": "lobby", "text": text});
    request(&mut bob, "say", say("1")).await;
    let first = recv_event(&mut ada, "message").await;
    assert_eq!(first["payload"]["text"], "1");
    let (epoch, offset) = (first["epoch"].clone(), first["offset"].as_u64().unwrap());
    drop(ada);

    // Published while ada is away; she comes back on the other node.
    for text in ["2", "3", "4"] {
        request(&mut bob, "say", say(text)).await;
    }
    let mut ada = connect_v2(two.addr, "ada").await;
    let since = json!({"topic": "lobby", "since": {"epoch": epoch, "offset": offset}});
    let frames = request(&mut ada, "beeflow.subscribe", since).await;
    let (done, replayed) = frames.split_last().unwrap();
    let replayed: Vec<(&Value, u64)> = replayed
        .iter()
        .map(|f| (&f["payload"]["text"], f["offset"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        replayed,
        [
            (&json!("2"), offset + 1),
            (&json!("3"), offset + 2),
            (&json!("4"), offset + 3)
        ],
        "{frames:?}"
    );
    assert_eq!(done["done"]["recovered"], true, "{done}");
    request(&mut bob, "say", say("5")).await;
    let live = recv_event(&mut ada, "message").await;
    assert_eq!(
        (&live["payload"]["text"], &live["epoch"]),
        (&json!("5"), &epoch)
    );
    assert_eq!(live["offset"], offset + 4);

    // Redis loses everything: the next event shows a new epoch, and a recovery from before
    // the loss cannot be complete.
    redis.kill();
    redis.restart();
    until("node two subscribed to the lobby again", || {
        redis.subscribers("beeflow:group:lobby") == 1
    })
    .await;
    // Node two publishes again right after it subscribed; an event sent in between reaches
    // its own connections without a position, and is sent again.
    let after = loop {
        request(&mut bob, "say", say("6")).await;
        let message = recv_event(&mut ada, "message").await;
        if message.get("epoch").is_some() {
            break message;
        }
    };
    assert_eq!(after["payload"]["text"], "6");
    assert_ne!(
        after["epoch"], epoch,
        "a new epoch after Redis lost the stream"
    );
    assert_eq!(after["offset"], 1);
    let mut cyd = connect_v2(one.addr, "cyd").await;
    let since = json!({"topic": "lobby", "since": {"epoch": epoch, "offset": offset}});
    let frames = request(&mut cyd, "beeflow.subscribe", since).await;
    assert_eq!(frames.len(), 1, "nothing replayed: {frames:?}");
    assert_eq!(frames[0]["done"]["recovered"], false);
}
