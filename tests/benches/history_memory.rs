//! Memory held by stream history: `--streams N` groups (default 100,000), each sent as many
//! events as its history keeps (`--events N`, default 100, the default history size), with
//! nobody listening — idle streams with full history. Measured for the in-memory broker (the
//! process's resident memory before and after) and for Redis (`used_memory` before and
//! after), and printed per stream and per event.
//!
//! Run: `cargo bench -p beeflow-tests --bench history_memory` (needs `redis-server`;
//! `--broker memory` or `--broker redis` runs one).

use std::process::Command;
use std::time::{Duration, Instant};

use beeflow_core::broker::RedisBroker;
use beeflow_core::{Dispatcher, Event, Limits, Recipient, Registry};
use beeflow_tests::redis::RedisServer;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "note", register = false)]
struct Note {
    text: &'static str,
}

/// A 64-character text, a typical chat message.
const NOTE: Note = Note {
    text: "The Analytical Engine weaves algebraic patterns like a Jacquard.",
};

fn option(flag: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn dispatcher(broker: Option<RedisBroker>) -> Dispatcher {
    let registry = Registry::builder()
        .event::<Note>()
        .build()
        .expect("registry");
    let limits = Limits::default().with_history(100, Duration::from_secs(3600));
    let builder = Dispatcher::builder().registry(registry).limits(limits);
    match broker {
        Some(broker) => builder.broker(broker),
        None => builder,
    }
    .build()
    .expect("dispatcher")
}

async fn fill(dispatcher: &Dispatcher, streams: usize, events: usize) {
    for event in 0..events {
        for stream in 0..streams {
            dispatcher
                .emit(Recipient::group(format!("g{stream}")), &NOTE)
                .await
                .expect("deliverable");
        }
        if event % 10 == 9 {
            println!("    {} events per stream", event + 1);
        }
    }
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn redis_used_memory(url: &str) -> u64 {
    let out = Command::new("redis-cli")
        .args(["-u", url, "INFO", "memory"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

fn redis_top(url: &str, stream: usize) -> u64 {
    let out = Command::new("redis-cli")
        .args([
            "-u",
            url,
            "HGET",
            &format!("{{beeflow:group:g{stream}}}:meta"),
            "s",
        ])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn report(name: &str, bytes: u64, streams: usize, events: usize) {
    let mib = bytes as f64 / (1 << 20) as f64;
    println!(
        "  {name}: {mib:.0} MiB for {streams} streams x {events} events = {:.0} bytes per stream, {:.0} per event",
        bytes as f64 / streams as f64,
        bytes as f64 / (streams * events) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let streams: usize = option("--streams", "100000").parse().expect("a number");
    let events: usize = option("--events", "100").parse().expect("a number");
    let broker = option("--broker", "both");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("history memory: {streams} idle streams, {events} events each (64-byte text)");
        if broker != "redis" {
            let dispatcher = dispatcher(None);
            let before = resident_bytes();
            let started = Instant::now();
            fill(&dispatcher, streams, events).await;
            let grown = resident_bytes().saturating_sub(before);
            report("in memory (resident set)", grown, streams, events);
            println!("    filled in {:.0?}", started.elapsed());
        }
        if broker != "memory" {
            let redis = RedisServer::start();
            let url = redis.url();
            let broker = RedisBroker::new(&url).expect("url");
            let dispatcher = dispatcher(Some(broker.clone()));
            let deadline = Instant::now() + Duration::from_secs(10);
            while !broker.is_connected() {
                assert!(Instant::now() < deadline, "the broker did not connect");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let before = redis_used_memory(&url);
            let started = Instant::now();
            fill(&dispatcher, streams, events).await;
            // Emits return once queued: wait until the last one is in Redis.
            while redis_top(&url, streams - 1) < events as u64 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let grown = redis_used_memory(&url).saturating_sub(before);
            report("in Redis (used_memory)", grown, streams, events);
            println!("    filled in {:.0?}", started.elapsed());
        }
    });
}
