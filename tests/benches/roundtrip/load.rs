//! The load generator: closed-loop WebSocket clients on 127.0.0.1.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// What one load run measured.
pub(crate) struct Measured {
    pub(crate) requests: u64,
    pub(crate) elapsed: Duration,
    /// Request latencies in microseconds, sorted.
    pub(crate) latencies_us: Vec<u32>,
}

impl Measured {
    pub(crate) fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile_us(&self, p: f64) -> u32 {
        let at = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[at]
    }
}

const REQUEST: &str = r#"{"msg_id":"2f0c7a4e-4a57-4d0e-9a37-0f3a4f0b1c2d","req_id":"8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918","action":"health","payload":{}}"#;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `connections` clients each keep `depth` requests in flight for `duration`.
pub(crate) async fn run(
    addr: SocketAddr,
    connections: usize,
    depth: usize,
    duration: Duration,
) -> Measured {
    let sockets = connect(addr, connections).await;
    drive(sockets, depth, duration).await
}

/// Opens `connections` clients (with `TCP_NODELAY`).
pub(crate) async fn connect(addr: SocketAddr, connections: usize) -> Vec<Socket> {
    let url = format!("ws://{addr}/ws/");
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (socket, _) = tokio_tungstenite::connect_async_with_config(&url, None, true)
            .await
            .expect("connect");
        sockets.push(socket);
    }
    sockets
}

/// Each of `sockets` keeps `depth` requests in flight for `duration`, then closes.
pub(crate) async fn drive(sockets: Vec<Socket>, depth: usize, duration: Duration) -> Measured {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut sent_at = Vec::with_capacity(depth);
                while Instant::now() < deadline {
                    sent_at.clear();
                    for _ in 0..depth {
                        sent_at.push(Instant::now());
                        socket
                            .feed(Message::Text(REQUEST.into()))
                            .await
                            .expect("send");
                    }
                    socket.flush().await.expect("flush");
                    for at in &sent_at {
                        loop {
                            match socket.next().await {
                                Some(Ok(Message::Text(_))) => break,
                                Some(Ok(_)) => {}
                                other => panic!("connection ended: {other:?}"),
                            }
                        }
                        latencies.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                }
                let _ = socket.close(None).await;
                latencies
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("load task"));
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Measured {
        requests: latencies_us.len() as u64,
        elapsed,
        latencies_us,
    }
}

/// Opens `count` connections and keeps them idle until the returned value is dropped.
pub(crate) async fn hold_idle(addr: SocketAddr, count: usize) -> Vec<impl Sized> {
    let url = format!("ws://{addr}/ws/");
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let (socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        sockets.push(socket);
    }
    sockets
}
