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
    let mut request = format!("ws://{addr}/ws/").into_client_request().unwrap();
    let protocols = HeaderValue::from_str(&format!("access-token, {nick}")).unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols);
    tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")
        .expect("handshake")
        .0
}

pub(crate) async fn send(socket: &mut Socket, action: &str, payload: Value) {
    let text = json!({"msg_id": Uuid::new_v4(), "req_id": Uuid::new_v4(), "action": action, "payload": payload});
    socket
        .send(Message::Text(text.to_string().into()))
        .await
        .unwrap();
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
