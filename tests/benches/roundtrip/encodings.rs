//! `--msgpack`: the axum quickstart's `health` over protocol version 2 in JSON
//! (`beeflow.v2`) against the same in MessagePack (`beeflow.v2.msgpack`), on one server
//! process, in interleaved runs: the frames' sizes, throughput, and the server's CPU time
//! per request. Each request is answered by two frames in version 2 (the event and the
//! completion).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::load::{self, REQUEST, Wire};
use crate::servers::{self, Server, cpu_seconds};
use crate::{CONNECTIONS, Options};

fn wires() -> [(&'static str, Wire); 2] {
    let value: serde_json::Value = serde_json::from_str(REQUEST).expect("JSON");
    let packed = rmp_serde::to_vec_named(&value).expect("MessagePack");
    [
        (
            "json (beeflow.v2)",
            Wire {
                protocol: Some("beeflow.v2"),
                request: Message::Text(REQUEST.into()),
                frames_per_request: 2,
            },
        ),
        (
            "msgpack (beeflow.v2.msgpack)",
            Wire {
                protocol: Some("beeflow.v2.msgpack"),
                request: Message::Binary(packed.into()),
                frames_per_request: 2,
            },
        ),
    ]
}

/// The sizes of one request and of the two frames that answer it.
async fn frame_sizes(addr: std::net::SocketAddr, wire: &Wire) -> (usize, Vec<usize>) {
    let mut socket = load::connect_wire(addr, 1, wire.protocol)
        .await
        .pop()
        .expect("a socket");
    socket.send(wire.request.clone()).await.expect("send");
    let mut replies = Vec::new();
    while replies.len() < wire.frames_per_request {
        match socket.next().await {
            Some(Ok(frame @ (Message::Text(_) | Message::Binary(_)))) => replies.push(frame.len()),
            Some(Ok(_)) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
    let _ = socket.close(None).await;
    (wire.request.len(), replies)
}

pub(crate) async fn run(options: &Options) {
    let (mut child, addr) = servers::spawn(Server::BeeflowAxum);
    let wires = wires();
    println!("frame sizes (bytes, WebSocket payload):");
    for (name, wire) in &wires {
        let (request, replies) = frame_sizes(addr, wire).await;
        println!(
            "  {name:<30} request {request:>4}  event {:>4}  completion {:>4}",
            replies[0], replies[1]
        );
    }
    println!(
        "\nround trip: beeflow-axum, {CONNECTIONS} connections, closed loop, {} s per run, best of {} interleaved runs",
        options.secs, options.runs
    );
    for depth in [1, 16] {
        let mut best: Vec<Option<(load::Measured, f64)>> = vec![None, None];
        for _ in 0..options.runs {
            for (i, (_, wire)) in wires.iter().enumerate() {
                let cpu_before = cpu_seconds(child.id());
                let duration = Duration::from_secs(options.secs);
                let measured = load::run_wire(addr, CONNECTIONS, depth, duration, wire).await;
                let cpu = cpu_seconds(child.id()) - cpu_before;
                let cpu_us = cpu * 1e6 / measured.requests as f64;
                if best[i]
                    .as_ref()
                    .is_none_or(|(b, _)| measured.throughput() > b.throughput())
                {
                    best[i] = Some((measured, cpu_us));
                }
            }
        }
        println!("\npipeline depth {depth}:");
        for ((name, _), best) in wires.iter().zip(&best) {
            let (m, cpu) = best.as_ref().expect("measured");
            println!(
                "  {name:<30} {:>9.0} req/s  p50 {:>6} us  p99 {:>6} us  server CPU {:.2} us/req",
                m.throughput(),
                m.percentile_us(0.50),
                m.percentile_us(0.99),
                cpu
            );
        }
        let (json, packed) = (best[0].as_ref().unwrap(), best[1].as_ref().unwrap());
        println!(
            "  ratio msgpack/json: throughput {:.2}x, server CPU {:.2}x",
            packed.0.throughput() / json.0.throughput(),
            packed.1 / json.1
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
