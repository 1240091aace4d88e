//! The in-process dispatch path: one `health` action through a connection, no I/O.
//!
//! Run with `cargo bench -p beeflow-core --bench dispatch`. Beside beeflow it measures, in
//! the same run, two hand-written baselines for the same frame: the least a server written
//! for this one action does (borrow `action` and `req_id` into a typed request, serialize a
//! typed reply), and the same through a `serde_json::Value` and `json!`; it prints the
//! medians and the ratios. Then the cost of payload validation: an action with
//! a typed payload whose schema has rules, with validation on (the default) and off.

use std::hint::black_box;
use std::time::Duration;

use beeflow_core::testing::TestClient;
use beeflow_core::transport::Outgoing;
use beeflow_core::{Dispatcher, Event, RateLimits, Registry, action};
use criterion::{Criterion, criterion_group};
use futures_util::FutureExt;
use serde_json::{Value, json};

const FRAME: &str = r#"{"msg_id":"2f0c7a4e-4a57-4d0e-9a37-0f3a4f0b1c2d","req_id":"8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918","action":"health","payload":{}}"#;

const TASK_FRAME: &str = r#"{"msg_id":"2f0c7a4e-4a57-4d0e-9a37-0f3a4f0b1c2d","req_id":"8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918","action":"task.add","payload":{"board":"planning","title":"Write the release notes","tags":["docs","release"]}}"#;

/// A payload with the rules a real one has: lengths and a pattern.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct AddTask {
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    board: String,
    #[schemars(length(min = 1, max = 100))]
    title: String,
    #[serde(default)]
    #[schemars(length(max = 10))]
    tags: Vec<String>,
}

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "task.added", register = false)]
struct TaskAdded {
    board: String,
    title: String,
    tags: usize,
}

#[action(name = "task.add", register = false)]
async fn add_task(payload: AddTask) -> TaskAdded {
    TaskAdded {
        board: payload.board,
        title: payload.title,
        tags: payload.tags.len(),
    }
}

fn task_dispatcher(validate: bool) -> Dispatcher {
    let registry = Registry::builder()
        .action::<add_task>()
        .event::<TaskAdded>()
        .build()
        .expect("one action");
    // Rate limits off, as for every load test; everything else as in production.
    Dispatcher::builder()
        .registry(registry)
        .rate_limits(RateLimits::off())
        .validate_payloads(validate)
        .build()
        .expect("valid configuration")
}

/// One `task.add` through a connection of `dispatcher`, answered before the call returns.
fn round(client: &mut TestClient) -> String {
    client
        .handle_text(black_box(TASK_FRAME))
        .now_or_never()
        .expect("the handler never waits");
    match client.try_recv_frame() {
        Some(Outgoing::Text(text)) => {
            debug_assert!(text.contains("task.added"), "{text}");
            text
        }
        other => panic!("expected a text frame, got {other:?}"),
    }
}

fn validation(c: &mut Criterion) {
    let validated = task_dispatcher(true);
    let unvalidated = task_dispatcher(false);
    let mut on = TestClient::connect(&validated);
    let mut off = TestClient::connect(&unvalidated);
    assert!(round(&mut on).contains("task.added"));
    let mut group = c.benchmark_group("dispatch");
    group.bench_function("typed_validated", |b| b.iter(|| black_box(round(&mut on))));
    group.bench_function("typed_unvalidated", |b| {
        b.iter(|| black_box(round(&mut off)));
    });
    group.finish();
}

fn beeflow_health(c: &mut Criterion) {
    let dispatcher = Dispatcher::builder()
        .registry(Registry::builder().build().expect("built-ins only"))
        .rate_limits(RateLimits::off())
        .build()
        .expect("valid configuration");
    let mut client = TestClient::connect(&dispatcher);
    let mut group = c.benchmark_group("dispatch");
    group.bench_function("beeflow_health", |b| {
        b.iter(|| {
            // The health handler never waits, so the future completes on its first poll.
            client
                .handle_text(black_box(FRAME))
                .now_or_never()
                .expect("health completes without waiting");
            match client.try_recv_frame() {
                Some(Outgoing::Text(text)) => black_box(text),
                other => panic!("expected a text frame, got {other:?}"),
            }
        });
    });
    group.bench_function("baseline_typed", |b| {
        #[derive(serde::Deserialize)]
        struct Request<'a> {
            #[serde(borrow)]
            action: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            req_id: std::borrow::Cow<'a, str>,
        }
        #[derive(serde::Serialize)]
        struct Reply<'a> {
            msg_id: uuid::Uuid,
            req_id: &'a str,
            seq: u64,
            event: &'static str,
            recipient: &'static str,
            recipient_id: &'static str,
            payload: Status,
        }
        #[derive(serde::Serialize)]
        struct Status {
            status: &'static str,
        }
        let mut seq = 0u64;
        b.iter(|| {
            let request: Request<'_> = serde_json::from_str(black_box(FRAME)).expect("valid");
            assert_eq!(request.action, "health");
            seq += 1;
            let reply = Reply {
                msg_id: uuid::Uuid::new_v4(),
                req_id: &request.req_id,
                seq,
                event: "health",
                recipient: "websocket",
                recipient_id: "node.1",
                payload: Status { status: "ok" },
            };
            black_box(serde_json::to_string(&reply).expect("serializable"))
        });
    });
    group.bench_function("baseline_serde_value", |b| {
        let mut seq = 0u64;
        b.iter(|| {
            let message: Value = serde_json::from_str(black_box(FRAME)).expect("valid JSON");
            assert_eq!(message["action"], "health");
            seq += 1;
            let reply = json!({
                "msg_id": uuid::Uuid::new_v4(),
                "req_id": message["req_id"],
                "seq": seq,
                "event": "health",
                "recipient": "websocket",
                "recipient_id": "node.1",
                "payload": {"status": "ok"},
            });
            black_box(reply.to_string())
        });
    });
    group.finish();
}

fn median_ns(bench: &str) -> Option<f64> {
    let path = format!(
        "{}/../target/criterion/dispatch/{bench}/new/estimates.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = beeflow_health, validation
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(ours), Some(typed), Some(value)) = (
        median_ns("beeflow_health"),
        median_ns("baseline_typed"),
        median_ns("baseline_serde_value"),
    ) {
        println!(
            "median: beeflow health {ours:.0} ns, typed baseline {typed:.0} ns (ratio {:.2}x), \
             Value baseline {value:.0} ns (ratio {:.2}x)",
            ours / typed,
            ours / value
        );
    }
    if let (Some(on), Some(off)) = (median_ns("typed_validated"), median_ns("typed_unvalidated")) {
        println!(
            "median: typed payload validated {on:.0} ns, not validated {off:.0} ns, ratio {:.2}x",
            on / off
        );
    }
}
