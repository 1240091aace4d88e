//! SSE against WebSocket for the same fan-out: the chat server (a child process pinned to
//! core 0) pushes announcements to `everyone`, followed by 500 subscribers over WebSocket
//! (protocol version 2) or over Server-Sent Events; the load generator (pinned to core 1)
//! posts 400 announcements and waits until every subscriber has them all. Interleaved
//! runs, best kept; prints deliveries per second of each transport and their ratio.
//!
//! Run with `cargo bench -p beeflow-tests --bench sse_fanout` (options after `--`:
//! `--subscribers N`, `--events N`, `--runs N`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beeflow_tests::sse::SseClient;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    WebSocket,
    Sse,
}

fn option(flag: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve();
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    pin(std::process::id(), 1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(
        option("--subscribers", 500),
        option("--events", 400),
        option("--runs", 3),
    ));
}

/// Child mode: the chat on one worker thread, rate limits off, its address printed first.
fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        let dispatcher = example_chat::dispatcher().build().expect("dispatcher");
        example_chat::serve(listener, dispatcher)
            .await
            .expect("serve");
    });
}

fn pin(pid: u32, core: usize) {
    let _ = Command::new("taskset")
        .args(["-cp", &core.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn spawn_server() -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("serve")
        .env("BEEFLOW_RATE_LIMIT", "off")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    pin(child.id(), 0);
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the address");
    (child, line.trim().parse().expect("an address"))
}

/// Counts the announcements one subscriber receives until it has `events`.
async fn follow(
    transport: Transport,
    addr: SocketAddr,
    nick: String,
    events: usize,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    match transport {
        Transport::WebSocket => {
            let mut request = format!("ws://{addr}/ws/")
                .into_client_request()
                .expect("request");
            let protocols = format!("beeflow.v2, access-token, {nick}");
            request
                .headers_mut()
                .insert("sec-websocket-protocol", protocols.parse().unwrap());
            let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
                .await
                .expect("connect");
            let subscribe = r#"{"msg_id":"2f0c7a4e-4a57-4d0e-9a37-0f3a4f0b1c2d","req_id":"8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918","action":"beeflow.subscribe","payload":{"topic":"everyone"}}"#;
            socket
                .send(Message::Text(subscribe.into()))
                .await
                .expect("send");
            let mut got = 0;
            let mut subscribed = false;
            while got < events {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        if text.contains("\"announcement\"") {
                            got += 1;
                        } else if !subscribed && text.contains("\"done\"") {
                            subscribed = true;
                            ready.send(()).await.expect("ready");
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("the socket ended: {other:?}"),
                }
            }
        }
        Transport::Sse => {
            let auth = format!("Authorization: Bearer {nick}");
            let mut client = SseClient::open(addr, "/sse/?topic=everyone", &[&auth]).await;
            let mut got = 0;
            let mut subscribed = false;
            while got < events {
                let event = client.next().await.expect("the stream goes on");
                if event.data.contains("\"announcement\"") {
                    got += 1;
                } else if !subscribed && event.data.contains("\"done\"") {
                    subscribed = true;
                    ready.send(()).await.expect("ready");
                }
            }
        }
    }
}

/// Posts `events` announcements on one kept-alive connection, each answered before the next.
async fn announce(addr: SocketAddr, events: usize) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (read, mut write) = stream.into_split();
    let mut read = tokio::io::BufReader::new(read);
    let body = r#"{"text":"an announcement to everyone"}"#;
    let request = format!(
        "POST /announce HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for _ in 0..events {
        write.write_all(request.as_bytes()).await.expect("post");
        let mut length = 0;
        loop {
            let mut line = String::new();
            read.read_line(&mut line).await.expect("read");
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await.expect("the body");
    }
}

/// One run: deliveries per second.
async fn run(transport: Transport, addr: SocketAddr, subscribers: usize, events: usize) -> f64 {
    let (ready, mut readied) = tokio::sync::mpsc::channel(subscribers);
    let followers: Vec<_> = (0..subscribers)
        .map(|i| {
            tokio::spawn(follow(
                transport,
                addr,
                format!("u{i}"),
                events,
                ready.clone(),
            ))
        })
        .collect();
    for _ in 0..subscribers {
        tokio::time::timeout(Duration::from_secs(30), readied.recv())
            .await
            .expect("every subscriber subscribed in time");
    }
    let started = Instant::now();
    announce(addr, events).await;
    for follower in followers {
        tokio::time::timeout(Duration::from_secs(60), follower)
            .await
            .expect("every subscriber got every event in time")
            .expect("follower");
    }
    (subscribers * events) as f64 / started.elapsed().as_secs_f64()
}

async fn bench(subscribers: usize, events: usize, runs: usize) {
    let (mut child, addr) = spawn_server();
    println!(
        "fan-out: {events} announcements to {subscribers} subscribers of `everyone`, best of {runs} interleaved runs"
    );
    let mut best = [0.0f64; 2];
    for _ in 0..runs {
        for (i, transport) in [Transport::WebSocket, Transport::Sse]
            .into_iter()
            .enumerate()
        {
            let rate = run(transport, addr, subscribers, events).await;
            println!("  {transport:?}: {rate:.0} deliveries/s");
            best[i] = best[i].max(rate);
        }
    }
    println!(
        "best: WebSocket {:.0} deliveries/s, SSE {:.0} deliveries/s",
        best[0], best[1]
    );
    println!("ratio SSE/WebSocket: {:.2}", best[1] / best[0]);
    let _ = child.kill();
    let _ = child.wait();
}
