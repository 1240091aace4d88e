//! Fan-out: one event to a group of 10,000 local connections, against the same event to a
//! group of one, in the same run. In memory (sessions and their outbound queues, no
//! sockets): the push, the queueing, and each connection's rendering of its frame.
//!
//! Run with `cargo bench -p beeflow-core --bench fanout`. Prints deliveries per second, the
//! cost of a single-recipient delivery, the cost of each extra recipient, and their ratio
//! (target: an extra recipient costs at most a fifth of a single delivery).

use std::hint::black_box;
use std::time::Duration;

use beeflow_core::{Dispatcher, Event, OutFrame, Outbound, Recipient, Registry, Session};
use criterion::{Criterion, criterion_group};
use futures_util::FutureExt;
use serde_json::Value;

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

fn group_of(dispatcher: &Dispatcher, group: &str, size: usize) -> Vec<(Session, Outbound)> {
    (0..size)
        .map(|_| {
            let (session, outbound) = dispatcher.open_session("/ws/");
            dispatcher
                .join(session.connection_id(), group)
                .expect("local connection");
            (session, outbound)
        })
        .collect()
}

/// Pushes one message to `group` and renders every member's frame.
fn push_and_drain(
    dispatcher: &Dispatcher,
    group: &'static str,
    members: &mut [(Session, Outbound)],
) {
    let report = dispatcher
        .push(Recipient::group(group), &MESSAGE)
        .now_or_never()
        .expect("in-memory delivery completes at once")
        .expect("deliverable");
    assert_eq!(report.delivered, members.len());
    for (_, outbound) in members.iter_mut() {
        match outbound.try_recv() {
            Some(OutFrame::Text(text)) => {
                black_box(text);
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

fn fanout(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("fanout");
    group.bench_function("group_of_1", |b| {
        b.iter(|| push_and_drain(&dispatcher, "one", &mut one));
    });
    group.sample_size(30);
    group.bench_function("group_of_10000", |b| {
        b.iter(|| push_and_drain(&dispatcher, "many", &mut many));
    });
    group.finish();
}

fn median_ns(bench: &str) -> Option<f64> {
    let path = format!(
        "{}/../target/criterion/fanout/{bench}/new/estimates.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = fanout
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(single), Some(many)) = (median_ns("group_of_1"), median_ns("group_of_10000")) {
        let per_extra = (many - single) / (FAN_OUT - 1) as f64;
        println!(
            "fan-out to {FAN_OUT}: {:.0} deliveries/s; single delivery {single:.0} ns; \
             each extra recipient {per_extra:.0} ns = {:.3} of a single delivery (target <= 0.2)",
            FAN_OUT as f64 / (many / 1e9),
            per_extra / single
        );
    }
}
