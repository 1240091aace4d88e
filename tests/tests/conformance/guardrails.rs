//! Guardrails against clients that are broken or hostile: keepalive, message and write
//! timeouts, and reading paced by the connection's queue. Driven by short limits, so every
//! test ends in well under a second when the server behaves.

use std::time::Duration;

use beeflow_core::{Dispatcher, Event, EventStream, HandshakePolicy, Limits, Registry, action};
use beeflow_tests::raw::{self, RawSocket, client_frame};
use beeflow_tests::until;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::adapters::Adapter;
use crate::support::{Server, envelope};

#[derive(Deserialize, schemars::JsonSchema)]
struct Count {
    count: u32,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "chunk", register = false)]
struct Chunk {
    n: u32,
    pad: String,
}

/// Streams `count` small events to the requester.
#[action(name = "stream", register = false)]
async fn stream_events(payload: Count) -> EventStream {
    EventStream::new(stream::iter(0..payload.count).map(|n| Chunk {
        n,
        pad: String::new(),
    }))
}

/// One event of 256 KiB.
#[action(name = "blob", register = false)]
async fn blob(_payload: Count) -> Chunk {
    Chunk {
        n: 0,
        pad: "x".repeat(256 << 10),
    }
}

use futures_util::StreamExt as _;

fn dispatcher(limits: Limits) -> Dispatcher {
    let registry = Registry::builder()
        .action::<stream_events>()
        .action::<blob>()
        .event::<Chunk>()
        .build()
        .unwrap();
    Dispatcher::builder()
        .registry(registry)
        .limits(limits)
        .build()
        .unwrap()
}

fn serve(adapter: &dyn Adapter, dispatcher: &Dispatcher) -> Server {
    adapter.spawn(
        dispatcher.clone(),
        HandshakePolicy::deny_all().allow_guests(),
    )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) async fn a_silent_client_is_pinged_then_closed_with_1011(adapter: &dyn Adapter) {
    let limits = Limits::default()
        .with_keepalive_interval(ms(100))
        .with_keepalive_timeout(ms(200));
    let server = serve(adapter, &dispatcher(limits));
    let mut socket = RawSocket::connect(server.addr, "/ws/").await;
    let ping = socket.read_frame().await.expect("a ping");
    assert_eq!(ping.opcode, raw::PING);
    assert_eq!(socket.close_code().await, Some(1011));
}

pub(crate) async fn a_client_that_answers_pings_stays_connected(adapter: &dyn Adapter) {
    let limits = Limits::default()
        .with_keepalive_interval(ms(50))
        .with_keepalive_timeout(ms(100));
    let server = serve(adapter, &dispatcher(limits));
    let mut client = server.connect().await;
    // Reading answers each ping; three of them span more than the keepalive timeout.
    let mut pings = 0;
    while pings < 3 {
        match client.next_message().await {
            Some(Message::Ping(_)) => pings += 1,
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    let reply = client.request("stream", json!({"count": 1})).await;
    assert_eq!(reply["event"], "chunk");
}

pub(crate) async fn an_unfinished_frame_is_closed_with_1008(adapter: &dyn Adapter) {
    let limits = Limits::default().with_message_timeout(ms(200));
    let server = serve(adapter, &dispatcher(limits));
    let mut socket = RawSocket::connect(server.addr, "/ws/").await;
    // The header of a 1000-byte text frame, and only 10 bytes of it.
    let frame = client_frame(raw::TEXT, true, &[b' '; 1000]);
    socket.write(&frame[..frame.len() - 990]).await;
    assert_eq!(socket.close_code().await, Some(1008));
}

pub(crate) async fn pongs_between_fragments_do_not_extend_a_message(adapter: &dyn Adapter) {
    let limits = Limits::default().with_message_timeout(ms(200));
    let server = serve(adapter, &dispatcher(limits));
    let mut socket = RawSocket::connect(server.addr, "/ws/").await;
    socket
        .write(&client_frame(raw::TEXT, false, b"{\"msg_id\""))
        .await;
    socket.write(&client_frame(raw::PONG, true, b"")).await;
    assert_eq!(socket.close_code().await, Some(1008));
}

pub(crate) async fn a_client_that_pipelines_more_than_its_queue_holds_gets_every_reply(
    adapter: &dyn Adapter,
) {
    let limits = Limits::default().with_outbound_queue(16);
    let server = serve(adapter, &dispatcher(limits));
    let mut socket = RawSocket::connect(server.addr, "/ws/").await;
    // 200 requests in one write, for a queue of 16 frames; each answered by one event.
    let health = envelope("health", json!({}));
    let burst: Vec<u8> = (0..200)
        .flat_map(|_| client_frame(raw::TEXT, true, health.as_bytes()))
        .collect();
    socket.write(&burst).await;
    for n in 1..=200 {
        let frame = socket.read_frame().await.expect("a reply");
        assert_eq!(frame.opcode, raw::TEXT, "reply {n}: {frame:?}");
        let reply: serde_json::Value = serde_json::from_slice(&frame.payload).unwrap();
        assert_eq!(reply["seq"], n);
    }
}

pub(crate) async fn a_stream_to_a_reading_client_is_paced_not_closed(adapter: &dyn Adapter) {
    let limits = Limits::default().with_outbound_queue(8);
    let server = serve(adapter, &dispatcher(limits));
    let mut client = server.connect().await;
    client
        .send_text(&envelope("stream", json!({"count": 500})))
        .await;
    for n in 0..500 {
        let event = client.recv().await;
        assert_eq!(event["payload"]["n"], n);
    }
}

pub(crate) async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout(
    adapter: &dyn Adapter,
) {
    let limits = Limits::default().with_write_timeout(ms(200));
    let dispatcher = dispatcher(limits);
    let server = serve(adapter, &dispatcher);
    let mut socket = RawSocket::connect(server.addr, "/ws/").await;
    until("the connection is registered", || {
        dispatcher.stats().connections == 1
    })
    .await;
    // 64 MiB of replies, far more than the socket buffers hold; never read.
    let burst: Vec<u8> = (0..256)
        .flat_map(|_| {
            client_frame(
                raw::TEXT,
                true,
                envelope("blob", json!({"count": 1})).as_bytes(),
            )
        })
        .collect();
    socket.write(&burst).await;
    until("the stalled connection is dropped", || {
        dispatcher.stats().connections == 0
    })
    .await;
}
