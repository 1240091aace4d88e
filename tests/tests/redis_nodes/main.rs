//! Multi-node delivery through a real `redis-server`: every recipient type across two
//! nodes in one process, two separate node processes chatting over real sockets, Redis
//! killed and restarted mid-test, Redis frozen, and version 2's subscriptions and presence
//! across nodes.

/// Instantiates each test, an `async fn(&impl Deployment)`, twice: `server::<test>` on one
/// `redis-server`, `cluster::<test>` on a Redis Cluster of three masters.
macro_rules! on_server_and_cluster {
    ($($test:ident),* $(,)?) => {
        mod server {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(&beeflow_tests::redis::RedisServer::start()).await;
            })*
        }
        mod cluster {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(&beeflow_tests::redis::RedisCluster::start()).await;
            })*
        }
    };
}

mod cluster_shards;
mod processes;
mod recovery;
mod sse_actions;
mod subscriptions;

use sse_actions::an_sse_action_posted_to_one_node_reaches_a_stream_on_another;

use std::time::{Duration, Instant};

use beeflow_core::broker::{RedisBroker, Topic};
use beeflow_core::testing::TestClient;
use beeflow_core::{Dispatcher, Recipient};
use example_chat::actions::Announcement;
use serde_json::{Value, json};

use beeflow_tests::redis::{RedisCluster, RedisServer};
use beeflow_tests::{TIMEOUT, until};

/// Where the nodes' Redis is.
trait Deployment {
    /// A broker for one node.
    fn broker(&self) -> RedisBroker;

    /// How many pattern subscriptions Redis holds, over all its servers.
    fn pattern_subscriptions(&self) -> usize;

    /// The length of the Redis stream at `key`, on the server that holds it.
    fn stream_length(&self, key: &str) -> usize;

    /// Stops every server (`SIGSTOP`) or lets them go on (`SIGCONT`).
    fn freeze(&self, frozen: bool);
}

fn xlen(server: &RedisServer, key: &str) -> usize {
    let reply = server
        .command(&format!("XLEN {key}"))
        .expect("redis answers");
    reply.trim_start_matches(':').parse().expect("a length")
}

fn numpat(server: &RedisServer) -> usize {
    let reply = server.command("PUBSUB NUMPAT").expect("redis answers");
    reply.trim_start_matches(':').parse().expect("a count")
}

impl Deployment for RedisServer {
    fn broker(&self) -> RedisBroker {
        RedisBroker::new(&self.url()).unwrap()
    }

    fn pattern_subscriptions(&self) -> usize {
        numpat(self)
    }

    fn stream_length(&self, key: &str) -> usize {
        xlen(self, key)
    }

    fn freeze(&self, frozen: bool) {
        if frozen {
            RedisServer::freeze(self);
        } else {
            self.thaw();
        }
    }
}

impl Deployment for RedisCluster {
    fn broker(&self) -> RedisBroker {
        RedisBroker::cluster(self.urls()).unwrap()
    }

    fn pattern_subscriptions(&self) -> usize {
        self.nodes().iter().map(numpat).sum()
    }

    fn stream_length(&self, key: &str) -> usize {
        let port = self.port_of(key);
        let server = self.nodes().iter().find(|node| node.port() == port);
        xlen(server.expect("the key's server"), key)
    }

    fn freeze(&self, frozen: bool) {
        for node in self.nodes() {
            Deployment::freeze(node, frozen);
        }
    }
}

on_server_and_cluster!(
    every_recipient_type_crosses_nodes,
    a_union_reaches_each_connection_once_across_nodes,
    an_sse_action_posted_to_one_node_reaches_a_stream_on_another,
);

fn node(redis: &impl Deployment) -> (Dispatcher, RedisBroker) {
    let broker = redis.broker();
    let dispatcher = Dispatcher::builder()
        .broker(broker.clone())
        .build()
        .unwrap();
    (dispatcher, broker)
}

async fn ready(broker: &RedisBroker, topics: &[Topic]) {
    until("the broker is connected", || broker.is_connected()).await;
    for topic in topics {
        until("the node subscribed", || broker.is_subscribed(topic)).await;
    }
}

fn announcement(text: &str) -> Announcement {
    Announcement { text: text.into() }
}

/// Waits for the next frame pushed to `client`.
async fn next(client: &mut TestClient) -> Value {
    tokio::time::timeout(TIMEOUT, client.recv())
        .await
        .expect("a frame arrived")
}

async fn every_recipient_type_crosses_nodes(redis: &impl Deployment) {
    let (node_a, broker_a) = node(redis);
    let (node_b, broker_b) = node(redis);
    let mut ada_a = TestClient::connect_as(&node_a, "ada".to_owned());
    let mut ada_b = TestClient::connect_as(&node_b, "ada".to_owned());
    let mut bob_b = TestClient::connect_as(&node_b, "bob".to_owned());
    ada_a.send("join_room", json!({"room": "lobby"})).await;
    bob_b.send("join_room", json!({"room": "lobby"})).await;
    let lobby = Topic::Group("lobby".into());
    ready(&broker_a, std::slice::from_ref(&lobby)).await;
    ready(
        &broker_b,
        &[
            lobby,
            Topic::User("ada".into()),
            Topic::Node(node_b.node_id().into()),
        ],
    )
    .await;

    // websocket: one connection on the other node.
    let report = node_a
        .emit(
            Recipient::connection(bob_b.connection_id()),
            &announcement("direct"),
        )
        .await
        .unwrap();
    assert_eq!((report.delivered, report.published), (0, 1));
    assert_eq!(next(&mut bob_b).await["payload"]["text"], "direct");

    // user: connections on both nodes.
    let frames = bob_b
        .send("whisper", json!({"to": "ada", "text": "psst"}))
        .await;
    assert!(frames.is_empty(), "bob is not ada");
    assert_eq!(next(&mut ada_b).await["payload"]["text"], "psst");
    assert_eq!(next(&mut ada_a).await["payload"]["text"], "psst");

    // group: members on both nodes.
    let own = ada_a
        .send("say", json!({"room": "lobby", "text": "hi all"}))
        .await;
    assert_eq!(own[0]["payload"]["text"], "hi all");
    let message = next(&mut bob_b).await;
    assert_eq!(message["payload"]["from"], "ada");
    assert!(
        message.get("req_id").is_some(),
        "the request's req_id crosses nodes"
    );

    // a push from outside a request on node B reaches node A; seq stays gap-free there.
    // Outside a request an emit to a user or group returns once it is on its way: its
    // deliveries, on node B too, are counted where they happen.
    let report = node_b
        .emit(Recipient::user("ada"), &announcement("pushed"))
        .await
        .unwrap();
    assert_eq!((report.delivered, report.published), (0, 1));
    let pushed = next(&mut ada_a).await;
    assert_eq!(pushed["payload"]["text"], "pushed");
    assert!(pushed.get("req_id").is_none());
    // ada on A: joined (1), whisper (2), own say (3), pushed (4).
    assert_eq!(pushed["seq"], 4);
    assert_eq!(
        next(&mut ada_b).await["seq"],
        2,
        "ada on B: whisper, pushed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_redis_restarts() {
    let mut redis = RedisServer::start();
    let (node_a, broker_a) = node(&redis);
    let (node_b, broker_b) = node(&redis);
    let mut on_a = TestClient::connect(&node_a);
    let mut on_b = TestClient::connect(&node_b);
    on_a.send("join_room", json!({"room": "r"})).await;
    on_b.send("join_room", json!({"room": "r"})).await;
    let room = Topic::Group("r".into());
    ready(&broker_a, std::slice::from_ref(&room)).await;
    ready(&broker_b, std::slice::from_ref(&room)).await;
    let report = node_a
        .emit(Recipient::group("r"), &announcement("before"))
        .await
        .unwrap();
    assert_eq!((report.published, report.lost), (1, 0));
    assert_eq!(next(&mut on_a).await["payload"]["text"], "before");
    assert_eq!(next(&mut on_b).await["payload"]["text"], "before");

    redis.kill();
    until("node A notices", || !broker_a.is_connected()).await;
    // Node A keeps serving its own connections; what it could not publish is reported.
    let report = node_a
        .emit(Recipient::group("r"), &announcement("during"))
        .await
        .unwrap();
    assert_eq!((report.delivered, report.lost), (1, 1));
    assert_eq!(next(&mut on_a).await["payload"]["text"], "during");
    assert!(broker_a.lost() >= 1);
    let health = on_b.send("health", json!({})).await;
    assert_eq!(
        health[0]["event"], "health",
        "node B serves its connections too"
    );

    redis.restart();
    ready(&broker_a, std::slice::from_ref(&room)).await;
    ready(&broker_b, &[room]).await;
    let report = node_a
        .emit(Recipient::group("r"), &announcement("after"))
        .await
        .unwrap();
    assert_eq!((report.published, report.lost), (1, 0));
    assert_eq!(next(&mut on_a).await["payload"]["text"], "after");
    let after = next(&mut on_b).await;
    assert_eq!(
        after["payload"]["text"], "after",
        "nothing from the outage arrives late"
    );
    // on B: joined (1), before (2), health (3), after (4): gap-free.
    assert_eq!(after["seq"], 4);
    assert!(broker_a.connections_made() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_does_not_stall_emits_and_what_was_lost_never_arrives() {
    let redis = RedisServer::start();
    let timeout = Duration::from_millis(100);
    let broker_a = RedisBroker::new(&redis.url())
        .unwrap()
        .with_publish_timeout(timeout);
    let node_a = Dispatcher::builder()
        .broker(broker_a.clone())
        .build()
        .unwrap();
    let (node_b, broker_b) = node(&redis);
    let mut on_b = TestClient::connect(&node_b);
    on_b.send("join_room", json!({"room": "r"})).await;
    let room = Topic::Group("r".into());
    ready(&broker_a, &[]).await;
    ready(&broker_b, std::slice::from_ref(&room)).await;
    // Once before the freeze, so Redis knows the publishing script when it wakes up.
    node_a
        .emit(Recipient::group("r"), &announcement("warm"))
        .await
        .unwrap();
    assert_eq!(next(&mut on_b).await["payload"]["text"], "warm");

    redis.freeze();
    let started = Instant::now();
    let report = node_a
        .emit(Recipient::group("r"), &announcement("frozen"))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited < timeout * 5, "the emit waited {waited:?}");
    // It was on its way when Redis froze; the broker gives up on it after its timeout.
    assert_eq!(report.lost, 0);
    until("node A gave up on the delivery", || broker_a.lost() == 1).await;
    // Redis stays frozen well past the publish timeout, as a stalled server does; then the
    // PUBLISH it was holding reaches node B, too late.
    tokio::time::sleep(timeout * 3).await;
    redis.thaw();
    until("node B dropped the late delivery", || {
        broker_b.expired() == 1
    })
    .await;
    let report = node_a
        .emit(Recipient::group("r"), &announcement("after"))
        .await
        .unwrap();
    assert_eq!((report.published, report.lost), (1, 0));
    assert_eq!(
        next(&mut on_b).await["payload"]["text"],
        "after",
        "the lost delivery never arrives"
    );
}

async fn a_union_reaches_each_connection_once_across_nodes(redis: &impl Deployment) {
    let (node_a, broker_a) = node(redis);
    let (node_b, broker_b) = node(redis);
    let mut bob_a = TestClient::connect_as(&node_a, "bob".to_owned());
    let mut bob_b = TestClient::connect_as(&node_b, "bob".to_owned());
    let mut carol_b = TestClient::connect_as(&node_b, "carol".to_owned());
    let mut dave_b = TestClient::connect_as(&node_b, "dave".to_owned());
    for client in [&bob_b, &carol_b, &dave_b] {
        node_b.join(client.connection_id(), "board").unwrap();
    }
    ready(&broker_a, &[Topic::User("bob".into())]).await;
    ready(
        &broker_b,
        &[Topic::User("bob".into()), Topic::Group("board".into())],
    )
    .await;

    // bob_b is reached as bob and as a board member, on the node that did not emit.
    let to = Recipient::user("bob")
        .and(Recipient::group("board"))
        .except(dave_b.connection_id());
    let report = node_a.emit(to, &announcement("assigned")).await.unwrap();
    // One delivery on one server; in a cluster one per part (each on its own shard).
    assert!(
        (1..=2).contains(&report.published) && report.lost == 0,
        "{report:?}"
    );
    // The marker follows on one of the same channels: a second copy of the union would
    // arrive at node B before it.
    node_a
        .emit(Recipient::group("board"), &announcement("marker"))
        .await
        .unwrap();

    let first = next(&mut bob_b).await;
    assert_eq!(first["payload"]["text"], "assigned");
    assert_eq!(
        first["recipient"], "user",
        "the first recipient that reaches bob"
    );
    assert_eq!(next(&mut bob_b).await["payload"]["text"], "marker");
    let first = next(&mut carol_b).await;
    assert_eq!(first["payload"]["text"], "assigned");
    assert_eq!(first["recipient"], "group");
    assert_eq!(next(&mut carol_b).await["payload"]["text"], "marker");
    assert_eq!(
        next(&mut dave_b).await["payload"]["text"],
        "marker",
        "left out"
    );
    assert_eq!(next(&mut bob_a).await["payload"]["text"], "assigned");
}
