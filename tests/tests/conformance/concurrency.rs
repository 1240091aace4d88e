//! `#[action(concurrent)]` over real sockets: a slow concurrent request does not hold up
//! the requests after it, at most `Limits::max_concurrent_actions` run at once, and other
//! actions keep answering in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use beeflow_core::{Dispatcher, Event, HandshakePolicy, Limits, Registry, State, action};
use beeflow_tests::until;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::adapters::Adapter;
use crate::support::{Client, Server, envelope};

/// Holds requests until the test releases them, and counts what runs.
#[derive(Clone)]
struct Gate {
    permits: Arc<Semaphore>,
    started: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Gate {
    fn new() -> Self {
        Self {
            permits: Arc::new(Semaphore::new(0)),
            started: Arc::default(),
            running: Arc::default(),
            most: Arc::default(),
            done: Arc::default(),
        }
    }

    async fn pass(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(running, Ordering::SeqCst);
        self.permits.acquire().await.unwrap().forget();
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
    }

    fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Slow {
    tag: u32,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "slow_done", register = false)]
struct SlowDone {
    tag: u32,
}

#[action(name = "slow", register = false, concurrent)]
async fn slow(payload: Slow, State(gate): State<Gate>) -> SlowDone {
    gate.pass().await;
    SlowDone { tag: payload.tag }
}

#[action(name = "slow_in_order", register = false)]
async fn slow_in_order(payload: Slow, State(gate): State<Gate>) -> SlowDone {
    gate.pass().await;
    SlowDone { tag: payload.tag }
}

fn server(adapter: &dyn Adapter, limits: Limits, gate: &Gate) -> (Server, Dispatcher) {
    let registry = Registry::builder()
        .action::<slow>()
        .action::<slow_in_order>()
        .event::<SlowDone>()
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder()
        .registry(registry)
        .limits(limits)
        .state(gate.clone())
        .build()
        .unwrap();
    let server = adapter.spawn(
        dispatcher.clone(),
        HandshakePolicy::deny_all().allow_guests(),
    );
    (server, dispatcher)
}

fn event(frame: &Value) -> (&str, Value) {
    (
        frame["event"].as_str().unwrap_or_default(),
        frame["payload"]["tag"].clone(),
    )
}

async fn send(client: &mut Client, action: &str, payload: Value) {
    client.send_text(&envelope(action, payload)).await;
}

pub(crate) async fn a_slow_concurrent_request_does_not_hold_up_later_ones(adapter: &dyn Adapter) {
    let gate = Gate::new();
    let (server, _dispatcher) = server(adapter, Limits::default(), &gate);
    let mut client = server.connect().await;
    send(&mut client, "slow", json!({ "tag": 1 })).await;
    send(&mut client, "health", json!({})).await;
    assert_eq!(event(&client.recv().await).0, "health", "health first");
    gate.permits.add_permits(1);
    assert_eq!(event(&client.recv().await), ("slow_done", json!(1)));

    // An action that is not concurrent still holds up what comes after it.
    send(&mut client, "slow_in_order", json!({ "tag": 2 })).await;
    send(&mut client, "health", json!({})).await;
    until("the ordered request started", || {
        Gate::count(&gate.started) == 2
    })
    .await;
    gate.permits.add_permits(1);
    assert_eq!(event(&client.recv().await), ("slow_done", json!(2)));
    assert_eq!(event(&client.recv().await).0, "health");
}

pub(crate) async fn at_most_the_limit_of_concurrent_requests_run_at_once(adapter: &dyn Adapter) {
    let gate = Gate::new();
    let limits = Limits::default().with_max_concurrent_actions(2);
    let (server, _dispatcher) = server(adapter, limits, &gate);
    let mut client = server.connect().await;
    for tag in 1..=6 {
        send(&mut client, "slow", json!({ "tag": tag })).await;
    }
    send(&mut client, "health", json!({})).await;
    until("two requests run", || Gate::count(&gate.started) == 2).await;
    // One at a time: a server without the limit would have started all six by now.
    for done in 1..=6 {
        gate.permits.add_permits(1);
        until("one more finished", || Gate::count(&gate.done) == done).await;
    }
    let mut tags = Vec::new();
    let mut health = 0;
    for _ in 0..7 {
        match event(&client.recv().await) {
            ("slow_done", tag) => tags.push(tag.as_u64().unwrap()),
            ("health", _) => health += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    tags.sort_unstable();
    assert_eq!(tags, [1, 2, 3, 4, 5, 6]);
    assert_eq!(health, 1);
    assert_eq!(
        Gate::count(&gate.most),
        2,
        "never more than the limit at once"
    );
}

pub(crate) async fn a_shutdown_lets_running_concurrent_requests_finish(adapter: &dyn Adapter) {
    let gate = Gate::new();
    let (server, dispatcher) = server(adapter, Limits::default(), &gate);
    let mut client = server.connect().await;
    send(&mut client, "slow", json!({ "tag": 1 })).await;
    send(&mut client, "slow", json!({ "tag": 2 })).await;
    until("both run", || Gate::count(&gate.started) == 2).await;
    let shutdown = tokio::spawn(async move { dispatcher.shutdown(crate::support::TIMEOUT).await });
    gate.permits.add_permits(2);
    let mut tags = vec![
        event(&client.recv().await).1.as_u64().unwrap(),
        event(&client.recv().await).1.as_u64().unwrap(),
    ];
    tags.sort_unstable();
    assert_eq!(tags, [1, 2], "both finished and were delivered");
    assert_eq!(client.close_code().await, 1001);
    let report = shutdown.await.unwrap();
    assert_eq!((report.closed, report.dropped), (1, 0));
}
