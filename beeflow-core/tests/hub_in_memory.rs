//! Delivery through the hub: users, groups, custom recipients, pushes, `seq`, several
//! nodes on one in-memory broker, and no leaks. In memory, through `TestClient`.

use std::collections::HashMap;
use std::sync::Arc;

use beeflow_core::broker::MemoryBroker;
use beeflow_core::testing::TestClient;
use beeflow_core::{
    ActionContext, ConnectionId, Dispatcher, Emit, Event, Problem, Recipient, Registry, State,
    action, recipient,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize, schemars::JsonSchema)]
struct Room {
    room: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Say {
    to: String,
    kind: String,
    text: String,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "said", register = false)]
struct Said {
    text: String,
}

#[action(name = "join", register = false)]
async fn join(payload: Room, cx: ActionContext) {
    cx.join(&payload.room);
}

#[action(name = "leave", register = false)]
async fn leave(payload: Room, cx: ActionContext) {
    cx.leave(&payload.room);
}

#[action(name = "say", register = false)]
async fn say(payload: Say) -> Result<Emit, Problem> {
    Emit::to(
        Recipient::new(payload.kind, payload.to),
        &Said { text: payload.text },
    )
}

/// Teams are an application's own recipient type: a table of connection ids.
#[derive(Clone, Default)]
struct Teams(Arc<std::sync::Mutex<HashMap<String, Vec<ConnectionId>>>>);

#[recipient(name = "team", register = false)]
async fn team(id: String, State(teams): State<Teams>) -> Vec<ConnectionId> {
    teams
        .0
        .lock()
        .unwrap()
        .get(&id)
        .cloned()
        .unwrap_or_default()
}

fn registry() -> Registry {
    Registry::builder()
        .action::<join>()
        .action::<leave>()
        .action::<say>()
        .event::<Said>()
        .resolver::<team>()
        .build()
        .unwrap()
}

fn node(broker: &MemoryBroker, teams: &Teams) -> Dispatcher {
    Dispatcher::builder()
        .registry(registry())
        .broker(broker.clone())
        .state(teams.clone())
        .build()
        .unwrap()
}

fn single() -> Dispatcher {
    node(&MemoryBroker::new(), &Teams::default())
}

async fn say_to(client: &mut TestClient, kind: &str, to: &str, text: &str) -> Vec<Value> {
    client
        .send("say", json!({"kind": kind, "to": to, "text": text}))
        .await
}

fn texts(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| f["payload"]["text"].as_str().unwrap_or("<problem>"))
        .collect()
}

#[tokio::test]
async fn a_user_with_several_connections_gets_each_event_once_per_connection() {
    let dispatcher = single();
    let mut phone = TestClient::connect_as(&dispatcher, "ada".to_owned());
    let mut laptop = TestClient::connect_as(&dispatcher, "ada".to_owned());
    let mut bob = TestClient::connect_as(&dispatcher, "bob".to_owned());
    let own = say_to(&mut bob, "user", "ada", "hi ada").await;
    assert!(own.is_empty(), "bob is not ada: {own:?}");
    for client in [&mut phone, &mut laptop] {
        let frames = client.drain();
        assert_eq!(texts(&frames), ["hi ada"]);
        assert_eq!(frames[0]["recipient"], "user");
        assert_eq!(frames[0]["recipient_id"], "ada");
    }
    let report = dispatcher
        .emit(
            Recipient::user("ada"),
            &Said {
                text: "pushed".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(report.delivered, 2);
}

#[tokio::test]
async fn groups_follow_join_and_leave() {
    let dispatcher = single();
    let mut a = TestClient::connect(&dispatcher);
    let mut b = TestClient::connect(&dispatcher);
    assert!(a.send("join", json!({"room": "lobby"})).await.is_empty());
    b.send("join", json!({"room": "lobby"})).await;
    let frames = say_to(&mut a, "group", "lobby", "one").await;
    assert_eq!(texts(&frames), ["one"], "the sender is a member too");
    assert_eq!(texts(&b.drain()), ["one"]);
    b.send("leave", json!({"room": "lobby"})).await;
    say_to(&mut a, "group", "lobby", "two").await;
    assert!(b.drain().is_empty());
    assert_eq!(dispatcher.stats().groups, 1);
    drop(a);
    assert_eq!(
        dispatcher.stats().groups,
        0,
        "closing a connection leaves its groups"
    );
}

#[tokio::test]
async fn a_custom_recipient_consults_application_state() {
    let teams = Teams::default();
    let dispatcher = node(&MemoryBroker::new(), &teams);
    let mut red = TestClient::connect(&dispatcher);
    let mut blue = TestClient::connect(&dispatcher);
    teams
        .0
        .lock()
        .unwrap()
        .insert("red".into(), vec![red.connection_id().clone()]);
    let mut sender = TestClient::connect(&dispatcher);
    assert!(
        say_to(&mut sender, "team", "red", "go red")
            .await
            .is_empty()
    );
    assert_eq!(texts(&red.drain()), ["go red"]);
    assert!(blue.drain().is_empty());
}

#[tokio::test]
async fn pushing_to_nobody_reports_zero_and_unknown_types_are_problems() {
    let dispatcher = single();
    let report = dispatcher
        .emit(Recipient::group("empty"), &Said { text: "x".into() })
        .await
        .unwrap();
    assert_eq!((report.delivered, report.published), (0, 0));
    let problem = dispatcher
        .emit(Recipient::new("planet", "mars"), &Said { text: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (problem.status(), problem.code()),
        (500, "unknown_recipient_type")
    );
    let mut client = TestClient::connect(&dispatcher);
    let frames = say_to(&mut client, "planet", "mars", "hello").await;
    assert_eq!(frames[0]["code"], "unknown_recipient_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_is_gap_free_under_concurrent_pushes_and_replies() {
    let dispatcher = single();
    let mut clients: Vec<TestClient> = (0..4).map(|_| TestClient::connect(&dispatcher)).collect();
    for client in &mut clients {
        client.send("join", json!({"room": "all"})).await;
    }
    let pushers: Vec<_> = (0..4)
        .map(|_| {
            let dispatcher = dispatcher.clone();
            tokio::spawn(async move {
                for n in 0..200 {
                    let event = Said {
                        text: format!("push {n}"),
                    };
                    dispatcher
                        .emit(Recipient::group("all"), &event)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut seen: Vec<Vec<u64>> = vec![Vec::new(); clients.len()];
    for _ in 0..50 {
        for (client, seqs) in clients.iter_mut().zip(&mut seen) {
            let frames = client.send("health", json!({})).await;
            seqs.extend(frames.iter().filter_map(|f| f["seq"].as_u64()));
        }
    }
    for pusher in pushers {
        pusher.await.unwrap();
    }
    for (client, seqs) in clients.iter_mut().zip(&mut seen) {
        seqs.extend(client.drain().iter().filter_map(|f| f["seq"].as_u64()));
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(*seqs, expected);
        assert_eq!(seqs.len(), 800 + 50, "every push and every reply arrived");
    }
}

#[tokio::test]
async fn ten_thousand_connection_cycles_leave_no_trace() {
    let dispatcher = single();
    for n in 0..10_000 {
        let user = format!("user{}", n % 7);
        let mut client = TestClient::connect_as(&dispatcher, user);
        if n % 3 == 0 {
            client
                .send("join", json!({"room": format!("room{}", n % 5)}))
                .await;
        }
    }
    assert_eq!(dispatcher.stats(), beeflow_core::NodeStats::default());
}

#[tokio::test]
async fn every_recipient_type_crosses_nodes_on_one_broker() {
    let broker = MemoryBroker::new();
    let teams = Teams::default();
    let (node_a, node_b) = (node(&broker, &teams), node(&broker, &teams));
    assert_ne!(node_a.node_id(), node_b.node_id());
    let mut on_a = TestClient::connect_as(&node_a, "ada".to_owned());
    let mut ada_on_b = TestClient::connect_as(&node_b, "ada".to_owned());
    let mut bob_on_b = TestClient::connect_as(&node_b, "bob".to_owned());

    // websocket: a connection on the other node.
    let to = bob_on_b.connection_id().to_string();
    say_to(&mut on_a, "websocket", &to, "direct").await;
    assert_eq!(texts(&bob_on_b.drain()), ["direct"]);
    assert!(ada_on_b.drain().is_empty());

    // user: connections on both nodes.
    say_to(&mut bob_on_b, "user", "ada", "to ada").await;
    assert_eq!(texts(&on_a.drain()), ["to ada"]);
    assert_eq!(texts(&ada_on_b.drain()), ["to ada"]);

    // group: members on both nodes, each node delivering to its own.
    on_a.send("join", json!({"room": "r"})).await;
    bob_on_b.send("join", json!({"room": "r"})).await;
    let frames = say_to(&mut on_a, "group", "r", "room").await;
    assert_eq!(texts(&frames), ["room"]);
    assert_eq!(texts(&bob_on_b.drain()), ["room"]);
    assert!(ada_on_b.drain().is_empty());

    // custom recipient resolving to a connection on the other node.
    teams
        .0
        .lock()
        .unwrap()
        .insert("blue".into(), vec![bob_on_b.connection_id().clone()]);
    say_to(&mut on_a, "team", "blue", "team").await;
    assert_eq!(texts(&bob_on_b.drain()), ["team"]);

    // a push on node B reaches node A; seq continues per connection.
    let report = node_b
        .emit(
            Recipient::user("ada"),
            &Said {
                text: "pushed".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!((report.delivered, report.published), (1, 1));
    let frames = on_a.drain();
    assert_eq!(texts(&frames), ["pushed"]);
    assert!(frames[0].get("req_id").is_none());
    assert_eq!(
        frames[0]["seq"], 3,
        "ada on A got 'to ada', 'room', then this"
    );
}

#[tokio::test]
async fn nodes_subscribe_only_to_what_their_connections_need() {
    let broker = MemoryBroker::new();
    let teams = Teams::default();
    let (node_a, node_b) = (node(&broker, &teams), node(&broker, &teams));
    let event = Said { text: "x".into() };
    let published = |report: beeflow_core::DeliveryReport| report.published;
    // Nobody on B is in the group or is the user: A's deliveries reach no other node.
    let mut on_a = TestClient::connect_as(&node_a, "ada".to_owned());
    on_a.send("join", json!({"room": "r"})).await;
    assert_eq!(
        published(node_a.emit(Recipient::group("r"), &event).await.unwrap()),
        0
    );
    assert_eq!(
        published(node_a.emit(Recipient::user("ada"), &event).await.unwrap()),
        0
    );
    // Once B has a member, it subscribes; once it has none, it unsubscribes.
    let mut on_b = TestClient::connect_as(&node_b, "ada".to_owned());
    on_b.send("join", json!({"room": "r"})).await;
    assert_eq!(
        published(node_a.emit(Recipient::group("r"), &event).await.unwrap()),
        1
    );
    assert_eq!(
        published(node_a.emit(Recipient::user("ada"), &event).await.unwrap()),
        1
    );
    drop(on_b);
    assert_eq!(
        published(node_a.emit(Recipient::group("r"), &event).await.unwrap()),
        0
    );
    assert_eq!(
        published(node_a.emit(Recipient::user("ada"), &event).await.unwrap()),
        0
    );
    assert_eq!(node_b.stats(), beeflow_core::NodeStats::default());
}
