//! Pattern subscriptions that do not match cost a delivery nothing: one event to a group with
//! 10,000 exact subscribers and 1,000 pattern subscriptions that do not match it, against the
//! same event to 10,000 exact subscribers and no pattern, in the same run. In memory
//! (connections and their outbound queues, no sockets), like the `fanout` benchmark.
//!
//! Run with `cargo bench -p beeflow-core --bench subscribers`. Prints the median time of
//! each delivery and their ratio (target: at most 1.1).

use std::time::Instant;

mod support;

use support::{median, push_and_drain};

use beeflow_core::testing::TestClient;
use beeflow_core::transport::Admission;
use beeflow_core::{Dispatcher, Event, Registry, SubscriptionRequest};
use futures_util::FutureExt;
use serde_json::json;

const SUBSCRIBERS: usize = 10_000;
const PATTERNS: usize = 1_000;
const GROUP: &str = "room.lobby";

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "chat_message", register = false)]
struct ChatMessage {
    text: &'static str,
}

const MESSAGE: ChatMessage = ChatMessage {
    text: "The Analytical Engine weaves algebraic patterns just as the Jacquard loom weaves flowers.",
};

fn dispatcher() -> Dispatcher {
    let registry = Registry::builder()
        .event::<ChatMessage>()
        .build()
        .expect("registry");
    Dispatcher::builder()
        .registry(registry)
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        .build()
        .expect("dispatcher")
}

/// A version-2 connection subscribed to `topic`.
fn subscriber(dispatcher: &Dispatcher, topic: &str) -> TestClient {
    let mut client = TestClient::admitted(dispatcher, &Admission::guest().v2());
    let frames = client
        .send("beeflow.subscribe", json!({ "topic": topic }))
        .now_or_never()
        .expect("subscribing completes at once");
    assert_eq!(frames[0]["done"]["events"], 0, "{frames:?}");
    client
}

/// Patterns that share tokens with the group but never match it: `room.lobby.*` and
/// `room.lobby.<n>.>` need more tokens, `<n>.lobby` and `room.<n>.*` other ones.
fn pattern(n: usize) -> String {
    match n % 4 {
        0 => "room.lobby.*".to_owned(),
        1 => format!("room.lobby.{n}.>"),
        2 => format!("*.lobby{n}"),
        _ => format!("room.{n}.*"),
    }
}

const ROUNDS: usize = 300;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs bench targets with `--test`: stay quick.
    let rounds = if args.iter().any(|a| a == "--test") {
        2
    } else {
        ROUNDS
    };
    let plain = dispatcher();
    let with_patterns = dispatcher();
    let mut plain_members: Vec<TestClient> = (0..SUBSCRIBERS)
        .map(|_| subscriber(&plain, GROUP))
        .collect();
    let mut members: Vec<TestClient> = (0..SUBSCRIBERS)
        .map(|_| subscriber(&with_patterns, GROUP))
        .collect();
    let _others: Vec<TestClient> = (0..PATTERNS)
        .map(|n| subscriber(&with_patterns, &pattern(n)))
        .collect();
    for _ in 0..3 {
        push_and_drain(&plain, GROUP, &MESSAGE, &mut plain_members);
        push_and_drain(&with_patterns, GROUP, &MESSAGE, &mut members);
    }
    // Interleaved, so a change in the machine's speed hits both alike.
    let (mut plain_ns, mut patterns_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        push_and_drain(&plain, GROUP, &MESSAGE, &mut plain_members);
        plain_ns.push(started.elapsed().as_nanos() as f64);
        let started = Instant::now();
        push_and_drain(&with_patterns, GROUP, &MESSAGE, &mut members);
        patterns_ns.push(started.elapsed().as_nanos() as f64);
    }
    let (plain, patterns) = (median(plain_ns), median(patterns_ns));
    println!("subscribers, in memory ({rounds} interleaved rounds, medians):");
    println!("  one event to {SUBSCRIBERS} exact subscribers:       {plain:>10.0} ns");
    println!("  the same beside {PATTERNS} non-matching patterns: {patterns:>10.0} ns");
    println!("  ratio: {:.3} (target <= 1.1)", patterns / plain);
}
