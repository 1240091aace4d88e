//! Stream positions and recovery across nodes on a real `redis-server` (`docs/protocol.md`
//! §6.4): a client that comes back on the other node gets what it missed, once, in order;
//! a recovery that cannot be complete replays nothing; Redis restarted empty starts new
//! epochs.

use std::time::Duration;

use beeflow_core::broker::{RedisBroker, Topic};
use beeflow_core::testing::TestClient;
use beeflow_core::transport::Admission;
use beeflow_core::{Dispatcher, Limits, RateLimits, Recipient, SubscriptionRequest};
use example_chat::actions::Announcement;
use serde_json::{Value, json};

use beeflow_tests::redis::RedisServer;
use beeflow_tests::until;

use crate::Deployment;

on_server_and_cluster!(
    a_client_back_on_the_other_node_recovers_what_it_missed,
    a_recovery_that_cannot_be_complete_replays_nothing,
    events_published_during_a_recovery_on_another_node_are_neither_lost_nor_doubled,
    a_recovery_starts_within_a_run_of_events_kept_together,
);

fn node(redis: &impl Deployment, limits: Limits) -> (Dispatcher, RedisBroker) {
    let broker = redis.broker();
    let dispatcher = Dispatcher::builder()
        .broker(broker.clone())
        .limits(limits)
        .rate_limits(RateLimits::off())
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        .build()
        .unwrap();
    (dispatcher, broker)
}

/// Two nodes on `redis`, both connected.
async fn two_nodes(redis: &impl Deployment, limits: Limits) -> [(Dispatcher, RedisBroker); 2] {
    let nodes = [node(redis, limits), node(redis, limits)];
    until("both connected", || {
        nodes.iter().all(|(_, b)| b.is_connected())
    })
    .await;
    nodes
}

fn v2(dispatcher: &Dispatcher) -> TestClient {
    TestClient::admitted(dispatcher, &Admission::guest().v2())
}

async fn publish(dispatcher: &Dispatcher, from: u64, to: u64) {
    for n in from..=to {
        let report = dispatcher
            .emit(
                Recipient::group("news"),
                &Announcement {
                    text: n.to_string(),
                },
            )
            .await
            .unwrap();
        assert_eq!(report.lost, 0);
    }
}

/// (text, offset) of an announcement frame.
fn note(frame: &Value) -> (String, u64) {
    (
        frame["payload"]["text"].as_str().unwrap().to_owned(),
        frame["offset"].as_u64().unwrap(),
    )
}

async fn subscribed(client: &mut TestClient, broker: &RedisBroker, payload: Value) -> Vec<Value> {
    let frames = client.send("beeflow.subscribe", payload).await;
    until("the node subscribed to the group", || {
        broker.is_subscribed(&Topic::Group("news".into()))
    })
    .await;
    frames
}

async fn a_client_back_on_the_other_node_recovers_what_it_missed(redis: &impl Deployment) {
    let [(node_a, broker_a), (node_b, broker_b)] = two_nodes(redis, Limits::default()).await;
    let mut client = v2(&node_a);
    subscribed(&mut client, &broker_a, json!({ "topic": "news" })).await;
    publish(&node_b, 1, 3).await;
    let mut epoch = String::new();
    for n in 1..=3 {
        let frame = client.recv().await;
        assert_eq!(note(&frame), (n.to_string(), n));
        epoch = frame["epoch"].as_str().unwrap().to_owned();
    }
    drop(client);

    publish(&node_a, 4, 6).await;
    let mut back = v2(&node_b);
    let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": 3 } });
    let frames = subscribed(&mut back, &broker_b, since).await;
    let replayed: Vec<(String, u64)> = frames[..3].iter().map(note).collect();
    assert_eq!(
        replayed,
        [("4".into(), 4), ("5".into(), 5), ("6".into(), 6)],
        "{frames:?}"
    );
    assert!(frames[..3].iter().all(|f| f["epoch"] == epoch.as_str()));
    assert_eq!(frames[3]["done"], json!({ "events": 0, "recovered": true }));
    publish(&node_a, 7, 7).await;
    assert_eq!(note(&back.recv().await), ("7".into(), 7));
}

async fn a_recovery_that_cannot_be_complete_replays_nothing(redis: &impl Deployment) {
    let limits = Limits::default().with_history(2, Duration::from_secs(60));
    let [(node_a, broker_a), (node_b, _)] = two_nodes(redis, limits).await;
    let mut watcher = v2(&node_a);
    subscribed(&mut watcher, &broker_a, json!({ "topic": "news" })).await;
    publish(&node_a, 1, 5).await;
    let epoch = watcher.recv().await["epoch"].as_str().unwrap().to_owned();
    let mut client = v2(&node_b);
    for (epoch, offset) in [(epoch.as_str(), 1), ("another", 4), (epoch.as_str(), 9)] {
        let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": offset } });
        let frames = client.send("beeflow.subscribe", since).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0]["done"]["recovered"], false);
    }
    let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": 3 } });
    let frames = client.send("beeflow.subscribe", since).await;
    assert_eq!(frames.len(), 3, "4 and 5 are kept: {frames:?}");
}

async fn events_published_during_a_recovery_on_another_node_are_neither_lost_nor_doubled(
    redis: &impl Deployment,
) {
    let limits = Limits::default().with_history(1000, Duration::from_secs(60));
    let [(node_a, _), (node_b, broker_b)] = two_nodes(redis, limits).await;
    let mut first = v2(&node_b);
    subscribed(&mut first, &broker_b, json!({ "topic": "news" })).await;
    publish(&node_a, 1, 1).await;
    let epoch = first.recv().await["epoch"].as_str().unwrap().to_owned();
    drop(first);
    for round in 0..20u64 {
        let base = 1 + round * 40;
        publish(&node_a, base + 1, base + 10).await;
        let publisher = {
            let node_a = node_a.clone();
            tokio::spawn(async move { publish(&node_a, base + 11, base + 40).await })
        };
        let mut client = v2(&node_b);
        let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": base } });
        let frames = client.send("beeflow.subscribe", since).await;
        // Live events may follow the completion among the frames queued by then.
        let done = frames.iter().find(|f| f.get("done").is_some()).unwrap();
        assert_eq!(done["done"]["recovered"], true, "round {round}");
        publisher.await.unwrap();
        let mut offsets: Vec<u64> = frames.iter().filter_map(|f| f["offset"].as_u64()).collect();
        while offsets.last() != Some(&(base + 40)) {
            offsets.push(client.recv().await["offset"].as_u64().unwrap());
        }
        let expected: Vec<u64> = (base + 1..=base + 40).collect();
        assert_eq!(offsets, expected, "round {round}");
    }
}

/// Events emitted together are appended in runs, one history entry each: a recovery
/// from inside a run gets exactly the events after its offset, and the trimming to the
/// history's size keeps what it promises.
async fn a_recovery_starts_within_a_run_of_events_kept_together(redis: &impl Deployment) {
    let limits = Limits::default().with_history(50, Duration::from_secs(60));
    let [(node_a, broker_a), (node_b, _)] = two_nodes(redis, limits).await;
    let mut watcher = v2(&node_a);
    subscribed(&mut watcher, &broker_a, json!({ "topic": "news" })).await;
    // Emits queue while Redis cannot answer, and go out together when it can.
    redis.freeze(true);
    publish(&node_a, 1, 200).await;
    redis.freeze(false);
    let mut epoch = String::new();
    for n in 1..=200 {
        let frame = watcher.recv().await;
        assert_eq!(note(&frame), (n.to_string(), n));
        epoch = frame["epoch"].as_str().unwrap().to_owned();
    }
    let entries = redis.stream_length("{beeflow:group:news}:history");
    assert!(
        entries < 50,
        "events queued together are appended together: {entries} entries kept"
    );
    for after in [150, 163, 199, 200] {
        let mut client = v2(&node_b);
        let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": after } });
        let frames = client.send("beeflow.subscribe", since).await;
        let (done, replayed) = frames.split_last().unwrap();
        let replayed: Vec<(String, u64)> = replayed.iter().map(note).collect();
        let expected: Vec<(String, u64)> = (after + 1..=200).map(|n| (n.to_string(), n)).collect();
        assert_eq!(replayed, expected, "after {after}");
        assert_eq!(done["done"]["recovered"], true, "after {after}");
    }
    let mut client = v2(&node_b);
    let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": 149 } });
    let frames = client.send("beeflow.subscribe", since).await;
    assert_eq!(frames.len(), 1, "51 missed, 50 kept: {frames:?}");
    assert_eq!(frames[0]["done"]["recovered"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_starts_a_new_epoch_and_recovery_says_so() {
    let mut redis = RedisServer::start();
    let (node_a, broker_a) = node(&redis, Limits::default());
    until("connected", || broker_a.is_connected()).await;
    let mut client = v2(&node_a);
    subscribed(&mut client, &broker_a, json!({ "topic": "news" })).await;
    publish(&node_a, 1, 2).await;
    client.recv().await;
    let before = client.recv().await;
    let old_epoch = before["epoch"].as_str().unwrap().to_owned();

    let reconnects = broker_a.connections_made();
    redis.kill();
    redis.restart();
    until("reconnected", || {
        broker_a.connections_made() > reconnects
            && broker_a.is_subscribed(&Topic::Group("news".into()))
    })
    .await;
    publish(&node_a, 3, 3).await;
    let after = client.recv().await;
    assert_eq!(after["offset"], 1, "offsets start again: {after}");
    assert_ne!(after["epoch"], old_epoch.as_str(), "under a new epoch");
    assert_eq!(broker_a.new_epochs(), 1, "the node counted it");
    let since = json!({ "topic": "news", "since": { "epoch": old_epoch, "offset": 2 } });
    let frames = v2(&node_a).send("beeflow.subscribe", since).await;
    assert_eq!(frames.last().unwrap()["done"]["recovered"], false);
}
