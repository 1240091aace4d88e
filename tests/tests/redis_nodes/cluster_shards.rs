//! What only a Redis Cluster has: one of its shards restarted empty.

use beeflow_core::broker::Topic;
use beeflow_core::testing::TestClient;
use beeflow_core::transport::Admission;
use beeflow_core::{Dispatcher, Limits, RateLimits, Recipient, SubscriptionRequest};
use example_chat::actions::Announcement;
use serde_json::json;

use beeflow_tests::redis::RedisCluster;
use beeflow_tests::until;

use crate::Deployment;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_restarted_empty_starts_its_streams_under_a_new_epoch() {
    let mut cluster = RedisCluster::start();
    let broker = cluster.broker();
    let node = Dispatcher::builder()
        .broker(broker.clone())
        .limits(Limits::default())
        .rate_limits(RateLimits::off())
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        .build()
        .unwrap();
    until("connected", || broker.is_connected()).await;
    let mut client = TestClient::admitted(&node, &Admission::guest().v2());
    client
        .send("beeflow.subscribe", json!({ "topic": "news" }))
        .await;
    let news = Topic::Group("news".into());
    until("subscribed", || broker.is_subscribed(&news)).await;
    let emit = |text: &str| {
        let node = node.clone();
        let text = text.to_owned();
        async move {
            node.emit(Recipient::group("news"), &Announcement { text })
                .await
                .unwrap()
        }
    };
    emit("one").await;
    emit("two").await;
    client.recv().await;
    let before = client.recv().await;
    assert_eq!(before["offset"], 2);
    let old_epoch = before["epoch"].as_str().unwrap().to_owned();

    // The node listens on the group's sharded channel, on the shard that holds the stream.
    let channel = "{beeflow:group:news}";
    let port = cluster.port_of(channel);
    assert_eq!(cluster.node_on(port).shard_subscribers(channel), 1);
    assert_eq!(cluster.node_on(port).subscribers("beeflow:group:news"), 0);

    // That shard loses everything.
    let reconnects = broker.connections_made();
    let shard = cluster.node_on(port);
    shard.kill();
    shard.restart();
    cluster.wait_until_up();
    until("the node is back on the cluster", || {
        broker.connections_made() > reconnects && broker.is_subscribed(&news)
    })
    .await;
    let mut after = None;
    // Emits fail while the cluster connection finds the restarted shard again; each one
    // that goes through is the first of the new epoch.
    for attempt in 0..50 {
        if emit(&format!("after {attempt}")).await.lost == 0 {
            after = Some(client.recv().await);
            break;
        }
        until("the broker reconnected", || broker.is_connected()).await;
    }
    let after = after.expect("an emit went through after the restart");
    assert_eq!(after["offset"], 1, "offsets start again: {after}");
    assert_ne!(after["epoch"], old_epoch.as_str(), "under a new epoch");
    assert_eq!(broker.new_epochs(), 1, "the node counted it");
    let since = json!({ "topic": "news", "since": { "epoch": old_epoch, "offset": 2 } });
    let frames = TestClient::admitted(&node, &Admission::guest().v2())
        .send("beeflow.subscribe", since)
        .await;
    assert_eq!(frames.last().unwrap()["done"]["recovered"], false);
}
