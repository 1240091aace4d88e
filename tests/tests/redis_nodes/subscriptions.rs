//! Version 2's subscriptions and presence across nodes on a real `redis-server`: patterns
//! reach other nodes' groups without a node hearing of every group, presence is one count
//! over all nodes, and a node killed with SIGKILL has its members leave within 60 s.

use std::time::{Duration, Instant};

use beeflow_core::broker::{RedisBroker, Topic};
use beeflow_core::testing::TestClient;
use beeflow_core::transport::Admission;
use beeflow_core::{Dispatcher, Recipient, SubscriptionRequest};
use example_chat::actions::Announcement;
use serde_json::{Value, json};

use crate::processes::{NodeProcess, connect, recv_event, send};
use beeflow_tests::redis::RedisServer;
use beeflow_tests::{TIMEOUT, until};

use crate::Deployment;

on_server_and_cluster!(
    a_pattern_reaches_the_groups_it_matches_on_other_nodes_and_no_others,
    presence_is_counted_over_every_node,
);

fn node(redis: &impl Deployment) -> (Dispatcher, RedisBroker) {
    let broker = redis.broker();
    let dispatcher = Dispatcher::builder()
        .broker(broker.clone())
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        .build()
        .unwrap();
    (dispatcher, broker)
}

fn v2_as(dispatcher: &Dispatcher, user: &str) -> TestClient {
    TestClient::admitted(dispatcher, &Admission::authenticated(user.to_owned()).v2())
}

/// The frames of one request, which must end with its completion.
async fn done(client: &mut TestClient, action: &str, payload: Value) -> Vec<Value> {
    let frames = client.send(action, payload).await;
    assert!(
        frames.last().is_some_and(|f| f.get("done").is_some()),
        "{frames:?}"
    );
    frames
}

fn announcement(text: &str) -> Announcement {
    Announcement { text: text.into() }
}

async fn a_pattern_reaches_the_groups_it_matches_on_other_nodes_and_no_others(
    redis: &impl Deployment,
) {
    let (node_a, broker_a) = node(redis);
    let (node_b, broker_b) = node(redis);
    let mut ada = v2_as(&node_a, "ada");
    done(&mut ada, "beeflow.subscribe", json!({ "topic": "room.*" })).await;
    until("node a subscribed to the pattern", || {
        broker_a.is_subscribed(&Topic::Pattern("room.*".into()))
    })
    .await;
    until("node b is connected", || broker_b.is_connected()).await;

    let report = node_b
        .emit(Recipient::group("room.7"), &announcement("to room.7"))
        .await
        .unwrap();
    assert_eq!(report.published, 1, "node a hears of room.7");
    let frame = ada.recv().await;
    assert_eq!(frame["payload"]["text"], "to room.7");
    assert_eq!(frame["recipient_id"], "room.7");

    // Other groups, and deeper ones the glob lets through, do not reach ada. Node a
    // listens on one glob, `beeflow:group:room.*`, not on every group.
    assert_eq!(redis.pattern_subscriptions(), 1);
    node_b
        .emit(Recipient::group("hall.1"), &announcement("to hall.1"))
        .await
        .unwrap();
    node_b
        .emit(Recipient::group("room.7.x"), &announcement("too deep"))
        .await
        .unwrap();
    node_b
        .emit(Recipient::group("room.8"), &announcement("to room.8"))
        .await
        .unwrap();
    assert_eq!(ada.recv().await["payload"]["text"], "to room.8");

    done(
        &mut ada,
        "beeflow.unsubscribe",
        json!({ "topic": "room.*" }),
    )
    .await;
    until("node a dropped the pattern", || {
        !broker_a.is_subscribed(&Topic::Pattern("room.*".into()))
    })
    .await;
    assert_eq!(redis.pattern_subscriptions(), 0);
}

async fn presence_is_counted_over_every_node(redis: &impl Deployment) {
    let (node_a, broker_a) = node(redis);
    let (node_b, broker_b) = node(redis);
    // Once connected, a node applies changes in order: ada's own entry is counted before
    // she watches, so she is in the snapshot and gets no notice of herself.
    until("both nodes are connected", || {
        broker_a.is_connected() && broker_b.is_connected()
    })
    .await;
    let mut ada = v2_as(&node_a, "ada");
    let frames = done(
        &mut ada,
        "beeflow.subscribe",
        json!({ "topic": "lobby", "presence": true }),
    )
    .await;
    assert_eq!(
        frames[0]["payload"],
        json!({ "topic": "lobby", "members": [{ "user": "ada", "connections": 1 }], "guests": 0 })
    );
    until("node a watches the lobby's presence", || {
        broker_a.is_subscribed(&Topic::Presence("lobby".into()))
    })
    .await;

    let mut bob = v2_as(&node_b, "bob");
    done(&mut bob, "beeflow.subscribe", json!({ "topic": "lobby" })).await;
    let joined = ada.recv().await;
    assert_eq!(joined["event"], "beeflow.join");
    assert_eq!(
        joined["payload"],
        json!({ "topic": "lobby", "user": "bob" })
    );
    let mut bob_on_a = v2_as(&node_a, "bob");
    done(
        &mut bob_on_a,
        "beeflow.subscribe",
        json!({ "topic": "lobby" }),
    )
    .await;

    let expected = json!({
        "topic": "lobby",
        "members": [
            { "user": "ada", "connections": 1 },
            { "user": "bob", "connections": 2 },
        ],
        "guests": 0,
    });
    for dispatcher in [&node_a, &node_b] {
        let presence = dispatcher.presence("lobby").await.unwrap();
        assert_eq!(serde_json::to_value(presence).unwrap(), expected);
    }

    drop(bob);
    drop(bob_on_a);
    let left = ada.recv().await;
    assert_eq!(left["event"], "beeflow.leave", "{left}");
    assert_eq!(left["payload"]["user"], "bob");
    assert!(
        ada.recv_within(Duration::from_millis(200)).await.is_none(),
        "one leave for bob's two connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_of_a_node_killed_with_sigkill_leave_within_60_seconds() {
    let redis = RedisServer::start();
    let (watcher_node, watcher_broker) = node(&redis);
    let doomed = NodeProcess::start(&redis);
    let mut cyd = connect(doomed.addr, "cyd").await;
    send(&mut cyd, "join_room", json!({"room": "lobby"})).await;
    recv_event(&mut cyd, "joined").await;
    until("watcher connected", || watcher_broker.is_connected()).await;
    // The doomed node counts cyd in Redis after answering `joined`: wait until it has.
    let deadline = Instant::now() + TIMEOUT;
    while watcher_node
        .presence("lobby")
        .await
        .unwrap()
        .members
        .is_empty()
    {
        assert!(Instant::now() < deadline, "cyd was never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut ada = v2_as(&watcher_node, "ada").with_recv_timeout(Duration::from_secs(60));
    let snapshot = done(
        &mut ada,
        "beeflow.subscribe",
        json!({ "topic": "lobby", "presence": true }),
    )
    .await;
    let members = &snapshot[0]["payload"]["members"];
    assert!(members.is_array(), "{snapshot:?}");
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user"] == "cyd"),
        "{snapshot:?}"
    );

    let killed = Instant::now();
    doomed.kill();
    let left = ada.recv().await;
    let after = killed.elapsed();
    assert_eq!(left["event"], "beeflow.leave", "{left}");
    assert_eq!(left["payload"]["user"], "cyd");
    assert!(after < Duration::from_secs(60), "left after {after:?}");
    eprintln!("the killed node's member left after {after:?}");
    let presence = watcher_node.presence("lobby").await.unwrap();
    assert_eq!(presence.members.len(), 1, "{presence:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_put_back_after_redis_restarts_empty() {
    let mut redis = RedisServer::start();
    let (node_a, broker_a) = node(&redis);
    until("connected", || broker_a.is_connected()).await;
    let mut ada = v2_as(&node_a, "ada");
    done(&mut ada, "beeflow.subscribe", json!({ "topic": "lobby" })).await;
    let before = node_a.presence("lobby").await.unwrap();
    assert_eq!(before.members.len(), 1);

    let reconnects = broker_a.connections_made();
    redis.kill();
    until("disconnected", || !broker_a.is_connected()).await;
    let refused = node_a.presence("lobby").await.unwrap_err();
    assert_eq!(refused.code(), "presence_unavailable");
    // A subscription whose presence cannot be read fails, and leaves nothing behind.
    let mut bob = v2_as(&node_a, "bob");
    let frames = bob
        .send(
            "beeflow.subscribe",
            json!({ "topic": "news", "presence": true }),
        )
        .await;
    assert!(
        frames.iter().any(|f| f["code"] == "presence_unavailable"),
        "{frames:?}"
    );
    redis.restart();
    until("reconnected", || broker_a.connections_made() > reconnects).await;
    assert_eq!(node_a.presence("lobby").await.unwrap(), before);
    let news = node_a.presence("news").await.unwrap();
    assert!(news.members.is_empty(), "bob is not subscribed: {news:?}");
}
