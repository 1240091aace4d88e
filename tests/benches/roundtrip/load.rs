//! The load generator: WebSocket clients on 127.0.0.1, closed-loop or paced.

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

pub(crate) const REQUEST: &str = r#"{"msg_id":"2f0c7a4e-4a57-4d0e-9a37-0f3a4f0b1c2d","req_id":"8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918","action":"health","payload":{}}"#;

/// What the clients speak: the subprotocol they offer, the request they send, and how many
/// frames answer it.
#[derive(Clone)]
pub(crate) struct Wire {
    pub(crate) protocol: Option<&'static str>,
    pub(crate) request: Message,
    pub(crate) frames_per_request: usize,
}

impl Wire {
    /// Version 1, JSON: the `health` event answers.
    pub(crate) fn v1() -> Self {
        Self {
            protocol: None,
            request: Message::Text(REQUEST.into()),
            frames_per_request: 1,
        }
    }
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `connections` clients each keep `depth` requests in flight for `duration`.
pub(crate) async fn run(
    addr: SocketAddr,
    connections: usize,
    depth: usize,
    duration: Duration,
) -> Measured {
    run_wire(addr, connections, depth, duration, &Wire::v1()).await
}

/// [`run`], speaking `wire`.
pub(crate) async fn run_wire(
    addr: SocketAddr,
    connections: usize,
    depth: usize,
    duration: Duration,
    wire: &Wire,
) -> Measured {
    let sockets = connect_wire(addr, connections, wire.protocol).await;
    let (measured, sockets) = drive(sockets, depth, duration, wire, Pace::ClosedLoop).await;
    close(sockets).await;
    measured
}

/// Opens `connections` clients (with `TCP_NODELAY`).
pub(crate) async fn connect(addr: SocketAddr, connections: usize) -> Vec<Socket> {
    connect_wire(addr, connections, None).await
}

/// Opens `connections` clients offering `protocol` (with `TCP_NODELAY`).
pub(crate) async fn connect_wire(
    addr: SocketAddr,
    connections: usize,
    protocol: Option<&str>,
) -> Vec<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{addr}/ws/");
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut request = url.as_str().into_client_request().expect("request");
        if let Some(protocol) = protocol {
            let value = protocol.parse().expect("header value");
            request
                .headers_mut()
                .insert("sec-websocket-protocol", value);
        }
        let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .expect("connect");
        sockets.push(socket);
    }
    sockets
}

/// How fast each client sends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// The next round of requests as soon as the last one is answered.
    ClosedLoop,
    /// At most this many requests per second: a round of `depth` requests, then a pause,
    /// so that a server with its production rate limits on never refuses one.
    PerSecond(u32),
}

/// Each of `sockets` keeps `depth` requests in flight for `duration`, at `pace`; returns
/// the sockets, open, for the next run.
pub(crate) async fn drive(
    sockets: Vec<Socket>,
    depth: usize,
    duration: Duration,
    wire: &Wire,
    pace: Pace,
) -> (Measured, Vec<Socket>) {
    let (request, frames) = (wire.request.clone(), wire.frames_per_request);
    let round_every = match pace {
        Pace::ClosedLoop => None,
        Pace::PerSecond(rate) => Some(Duration::from_secs(depth as u64) / rate),
    };
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut sent_at = Vec::with_capacity(depth);
                let mut next_round = Instant::now();
                while Instant::now() < deadline {
                    if let Some(every) = round_every {
                        tokio::time::sleep_until(next_round.into()).await;
                        next_round += every;
                    }
                    sent_at.clear();
                    for _ in 0..depth {
                        sent_at.push(Instant::now());
                        socket.feed(request.clone()).await.expect("send");
                    }
                    socket.flush().await.expect("flush");
                    for at in &sent_at {
                        let mut answered = 0;
                        while answered < frames {
                            match socket.next().await {
                                Some(Ok(Message::Text(_) | Message::Binary(_))) => answered += 1,
                                Some(Ok(_)) => {}
                                other => panic!("connection ended: {other:?}"),
                            }
                        }
                        latencies.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                }
                (latencies, socket)
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut sockets = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (latencies, socket) = task.await.expect("load task");
        latencies_us.extend(latencies);
        sockets.push(socket);
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    let measured = Measured {
        requests: latencies_us.len() as u64,
        elapsed,
        latencies_us,
    };
    (measured, sockets)
}

/// Closes `sockets` with a close frame each.
pub(crate) async fn close(sockets: Vec<Socket>) {
    for mut socket in sockets {
        let _ = socket.close(None).await;
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
