//! Cross-node delivery through Redis against the same load on a single node, in one run.
//!
//! Run: `cargo bench -p beeflow-tests --bench crossnode` (needs `redis-server`, which
//! `scripts/test.sh` installs; the bench starts its own on a free loopback port and stops
//! it). Options after `--`: `--events N` (default 20000), `--receivers N` (default 10),
//! `--runs N` (interleaved, best kept; default 3), `--profile cross|single` (one
//! throughput run with one sender, no comparison: a steady load to profile).
//!
//! Senders push events to a group from node A (one sender, then eight at once); the group's
//! members are connections on node B (through Redis), or on node A itself (single node).
//! Each event carries its send time, so every receiving connection measures the end-to-end
//! latency from the push to the rendered frame leaving its queue. Throughput is measured
//! with up to 256 events per receiver in flight; latency with one sender and one event in
//! flight (each push waits for every receiver), so queueing behind the window does not
//! count as latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use beeflow_core::broker::{RedisBroker, Topic};
use beeflow_core::testing::TestClient;
use beeflow_core::transport::Outgoing;
use beeflow_core::{Dispatcher, Event, Recipient, Registry};
use beeflow_tests::redis::RedisServer;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "tick", register = false)]
struct Tick {
    sent_us: u64,
}

/// Events per receiver in flight when measuring throughput. Latency is measured with one.
const WINDOW: u64 = 256;

struct Options {
    events: u64,
    receivers: usize,
    runs: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    Options {
        events: value("--events", 20_000),
        receivers: value("--receivers", 10) as usize,
        runs: value("--runs", 3) as usize,
    }
}

struct Measured {
    events_per_second: f64,
    p50_us: u64,
    p99_us: u64,
}

fn registry() -> Registry {
    Registry::builder()
        .event::<Tick>()
        .build()
        .expect("registry")
}

/// Pushes `events` ticks from `senders` tasks on node `sender` to group `bench`, whose
/// members are `members`, with at most `window` events per receiver in flight.
async fn run(
    sender: &Dispatcher,
    members: Vec<TestClient>,
    events: u64,
    window: u64,
    senders: usize,
) -> Measured {
    // Each receiver's count, so no receiver falls more than `window` behind (its queue
    // holds 1024 frames; a slower one would be disconnected, as a real slow client is).
    let received: Arc<Vec<AtomicU64>> =
        Arc::new(members.iter().map(|_| AtomicU64::new(0)).collect());
    // Wakes senders waiting for the receivers to catch up (instead of spinning, which would
    // take the CPU from the nodes and Redis on a 2-core machine).
    let progress = Arc::new(tokio::sync::Notify::new());
    let origin = Instant::now();
    let tasks: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(index, mut member)| {
            let (received, progress) = (received.clone(), progress.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(events as usize);
                while (latencies.len() as u64) < events {
                    let Some(Outgoing::Text(text)) = member.recv_frame().await else {
                        panic!("the connection ended");
                    };
                    let frame: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    let sent = frame["payload"]["sent_us"].as_u64().expect("a send time");
                    let now = origin.elapsed().as_micros() as u64;
                    latencies.push(now.saturating_sub(sent));
                    received[index].fetch_add(1, Ordering::Relaxed);
                    progress.notify_waiters();
                }
                drop(member);
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let pushers: Vec<_> = (0..senders)
        .map(|_| {
            let (sender, received, next) = (sender.clone(), received.clone(), next.clone());
            let progress = progress.clone();
            tokio::spawn(async move {
                loop {
                    let sent = next.fetch_add(1, Ordering::Relaxed);
                    if sent >= events {
                        break;
                    }
                    loop {
                        let caught_up = progress.notified();
                        tokio::pin!(caught_up);
                        caught_up.as_mut().enable();
                        let lagging = received
                            .iter()
                            .any(|r| sent.saturating_sub(r.load(Ordering::Relaxed)) >= window);
                        if !lagging {
                            break;
                        }
                        caught_up.await;
                    }
                    let tick = Tick {
                        sent_us: origin.elapsed().as_micros() as u64,
                    };
                    sender
                        .emit(Recipient::group("bench"), &tick)
                        .await
                        .expect("deliverable");
                }
            })
        })
        .collect();
    for pusher in pushers {
        pusher.await.expect("sender");
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("receiver"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    Measured {
        events_per_second: events as f64 / elapsed.as_secs_f64(),
        p50_us: at(0.50),
        p99_us: at(0.99),
    }
}

fn members(node: &Dispatcher, count: usize) -> Vec<TestClient> {
    (0..count)
        .map(|_| {
            let member = TestClient::connect(node);
            node.join(member.connection_id(), "bench").expect("local");
            member
        })
        .collect()
}

async fn wait_for(broker: &RedisBroker, topic: &Topic) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(broker.is_connected() && broker.is_subscribed(topic)) {
        assert!(Instant::now() < deadline, "the broker did not subscribe");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let redis = RedisServer::start();
        let url = redis.url();
        if let Some(mode) = args
            .iter()
            .position(|a| a == "--profile")
            .map(|i| &args[i + 1])
        {
            let measured = if mode == "single" {
                let single = Dispatcher::builder()
                    .registry(registry())
                    .build()
                    .expect("node");
                let members = members(&single, options.receivers);
                run(&single, members, options.events, WINDOW, 1).await
            } else {
                let (node_a, _node_b, members_b) = two_nodes(&url, options.receivers).await;
                run(&node_a, members_b, options.events, WINDOW, 1).await
            };
            println!("{mode}: {:.0} events/s", measured.events_per_second);
            return;
        }
        println!(
            "cross-node: {} events to a group of {} receivers, best of {} interleaved runs",
            options.events, options.receivers, options.runs
        );
        // [1 sender, 8 senders, latency] x [single, cross]
        let mut best: [[Option<Measured>; 2]; 3] = Default::default();
        for _ in 0..options.runs {
            for (mode, window, senders) in [(0, WINDOW, 1), (1, WINDOW, 8), (2, 1, 1)] {
                let events = if window == 1 {
                    options.events / 10
                } else {
                    options.events
                };
                let single = Dispatcher::builder()
                    .registry(registry())
                    .build()
                    .expect("node");
                let members_single = members(&single, options.receivers);
                keep_best(
                    &mut best[mode][0],
                    run(&single, members_single, events, window, senders).await,
                );

                let (node_a, _node_b, members_b) = two_nodes(&url, options.receivers).await;
                keep_best(
                    &mut best[mode][1],
                    run(&node_a, members_b, events, window, senders).await,
                );
            }
        }
        let [
            [Some(single), Some(cross)],
            [Some(single8), Some(cross8)],
            [Some(single_lat), Some(cross_lat)],
        ] = best
        else {
            unreachable!("runs >= 1")
        };
        for (senders, single, cross) in [(1, &single, &cross), (8, &single8, &cross8)] {
            println!("  throughput, {senders} sender(s) ({WINDOW} in flight per receiver):");
            for (name, m) in [("single node", single), ("A -> Redis -> B", cross)] {
                println!("    {name:<16} {:>9.0} events/s", m.events_per_second);
            }
            println!(
                "    ratio cross-node/single: {:.2}x",
                cross.events_per_second / single.events_per_second
            );
        }
        println!("  latency (one sender, one event in flight):");
        for (name, m) in [
            ("single node", &single_lat),
            ("A -> Redis -> B", &cross_lat),
        ] {
            println!(
                "    {name:<16} p50 {:>6} us  p99 {:>6} us",
                m.p50_us, m.p99_us
            );
        }
        println!(
            "  ratio cross-node/single: p50 {:.1}x, p99 {:.1}x",
            cross_lat.p50_us as f64 / single_lat.p50_us.max(1) as f64,
            cross_lat.p99_us as f64 / single_lat.p99_us.max(1) as f64
        );
    });
}

/// Nodes A and B on the Redis at `url`, both subscribed, and `receivers` members of the
/// group on B.
async fn two_nodes(url: &str, receivers: usize) -> (Dispatcher, Dispatcher, Vec<TestClient>) {
    let broker_a = RedisBroker::new(url).expect("url");
    let broker_b = RedisBroker::new(url).expect("url");
    let node_a = Dispatcher::builder()
        .registry(registry())
        .broker(broker_a.clone())
        .build()
        .expect("node");
    let node_b = Dispatcher::builder()
        .registry(registry())
        .broker(broker_b.clone())
        .build()
        .expect("node");
    let members_b = members(&node_b, receivers);
    wait_for(&broker_a, &Topic::Node(node_a.node_id().into())).await;
    wait_for(&broker_b, &Topic::Group("bench".into())).await;
    (node_a, node_b, members_b)
}

fn keep_best(best: &mut Option<Measured>, measured: Measured) {
    if best
        .as_ref()
        .is_none_or(|b| measured.events_per_second > b.events_per_second)
    {
        *best = Some(measured);
    }
}
