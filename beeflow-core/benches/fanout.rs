//! Fan-out: one event to a group of 10,000 local connections, against the same event to a
//! group of one, in the same run. In memory (connections and their outbound queues, no
//! sockets): the push, the queueing, and each connection's rendering of its frame.
//!
//! Run with `cargo bench -p beeflow-core --bench fanout`. Prints deliveries per second, the
//! cost of a single-recipient delivery, the cost of each extra recipient, and their ratio
//! (target: an extra recipient costs at most a fifth of a single delivery). Waking writer
//! tasks is not part of it: the queues are drained in place, as `TestClient` does.

use std::time::Instant;

mod support;

use support::{median, push_and_drain};

use beeflow_core::testing::TestClient;
use beeflow_core::{Dispatcher, Event, Registry};

const FAN_OUT: usize = 10_000;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "chat_message", register = false)]
struct ChatMessage {
    room: &'static str,
    from: &'static str,
    text: &'static str,
}

const MESSAGE: ChatMessage = ChatMessage {
    room: "lobby",
    from: "ada",
    text: "The Analytical Engine weaves algebraic patterns just as the Jacquard loom weaves flowers.",
};

fn group_of(dispatcher: &Dispatcher, group: &str, size: usize) -> Vec<TestClient> {
    (0..size)
        .map(|_| {
            let member = TestClient::connect(dispatcher);
            dispatcher
                .join(member.connection_id(), group)
                .expect("local connection");
            member
        })
        .collect()
}

/// Interleaved rounds, so a change in the machine's speed (this VM swings up to 2x) hits
/// both measurements alike: each round times `SINGLES` single deliveries, then one fan-out.
const ROUNDS: usize = 400;
const SINGLES: usize = 2000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs bench targets with `--test`: stay quick.
    let rounds = if args.iter().any(|a| a == "--test") {
        2
    } else {
        ROUNDS
    };
    let registry = Registry::builder()
        .event::<ChatMessage>()
        .build()
        .expect("registry");
    let dispatcher = Dispatcher::builder()
        .registry(registry)
        .build()
        .expect("dispatcher");
    let mut one = group_of(&dispatcher, "one", 1);
    let mut many = group_of(&dispatcher, "many", FAN_OUT);
    // Warm up: allocator, caches, branch predictors.
    for _ in 0..3 {
        push_and_drain(&dispatcher, "many", &MESSAGE, &mut many);
    }
    let (mut single_ns, mut many_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..SINGLES {
            push_and_drain(&dispatcher, "one", &MESSAGE, &mut one);
        }
        single_ns.push(started.elapsed().as_nanos() as f64 / SINGLES as f64);
        let started = Instant::now();
        push_and_drain(&dispatcher, "many", &MESSAGE, &mut many);
        many_ns.push(started.elapsed().as_nanos() as f64);
    }
    let (single, many) = (median(single_ns), median(many_ns));
    let per_extra = (many - single) / (FAN_OUT - 1) as f64;
    println!("fan-out, in memory ({rounds} interleaved rounds, medians):");
    println!("  one event to a group of 1:      {single:>10.0} ns");
    println!(
        "  one event to a group of {FAN_OUT}: {many:>10.0} ns ({:.0} deliveries/s)",
        FAN_OUT as f64 / (many / 1e9)
    );
    println!(
        "  each extra recipient: {per_extra:.0} ns = {:.3} of a single delivery (target <= 0.2)",
        per_extra / single
    );
}
