//! How long a node takes to subscribe to what its connections need: `--groups N` groups
//! (default 20,000) joined at once, then all of them again after Redis restarts.
//!
//! Run: `cargo bench -p beeflow-tests --bench resubscribe` (needs `redis-server`, which
//! `scripts/test.sh` installs; the bench starts its own on a free loopback port and stops
//! it). Options after `--`: `--groups N`, `--runs N` (best kept; default 3).

use std::time::{Duration, Instant};

use beeflow_core::broker::{RedisBroker, Topic};
use beeflow_core::testing::TestClient;
use beeflow_core::{Dispatcher, Registry};
use beeflow_tests::redis::RedisServer;

fn option(flag: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// Waits until the broker is subscribed to every group, and returns how long that took
/// from `since`.
async fn all_subscribed(broker: &RedisBroker, topics: &[Topic], since: Instant) -> Duration {
    let deadline = since + Duration::from_secs(120);
    for topic in topics {
        while !broker.is_subscribed(topic) {
            assert!(Instant::now() < deadline, "not subscribed after 120 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    since.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let (groups, runs) = (option("--groups", 20_000), option("--runs", 3));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("resubscribe: {groups} groups joined by one connection, best of {runs} runs");
        let (mut joined, mut restarted) = (Duration::MAX, Duration::MAX);
        for _ in 0..runs {
            let mut redis = RedisServer::start();
            let broker = RedisBroker::new(&redis.url()).expect("url");
            let node = Dispatcher::builder()
                .registry(Registry::builder().build().expect("registry"))
                .broker(broker.clone())
                .build()
                .expect("node");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !broker.is_connected() {
                assert!(Instant::now() < deadline, "the broker did not connect");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let member = TestClient::connect(&node);
            let topics: Vec<Topic> = (0..groups)
                .map(|n| Topic::Group(format!("g{n}").into()))
                .collect();
            let started = Instant::now();
            for n in 0..groups {
                node.join(member.connection_id(), &format!("g{n}"))
                    .expect("local");
            }
            joined = joined.min(all_subscribed(&broker, &topics, started).await);

            let made = broker.connections_made();
            redis.restart();
            let restarted_at = Instant::now();
            while broker.connections_made() == made {
                assert!(
                    restarted_at.elapsed() < Duration::from_secs(30),
                    "no reconnect"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            restarted = restarted.min(all_subscribed(&broker, &topics, restarted_at).await);
            drop(member);
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / groups as f64;
        println!(
            "  joined at once:       {:>8.1} ms ({:.1} us per group)",
            joined.as_secs_f64() * 1e3,
            per(joined)
        );
        println!(
            "  after Redis restarts: {:>8.1} ms ({:.1} us per group, reconnect included)",
            restarted.as_secs_f64() * 1e3,
            per(restarted)
        );
    });
}
