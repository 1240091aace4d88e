//! One emit to several recipients, or to a recipient less one connection: each connection
//! gets the event once, with one `msg_id`, on one node and across nodes (in memory here;
//! through Redis in `tests/tests/redis_nodes`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use beeflow_core::broker::MemoryBroker;
use beeflow_core::testing::TestClient;
use beeflow_core::{
    ActionContext, ConnectionId, Dispatcher, Event, Problem, Recipient, Recipients, Registry,
    State, action, recipient,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "note", register = false)]
struct Note {
    text: String,
}

fn note(text: &str) -> Note {
    Note { text: text.into() }
}

/// An application's own recipient type, to mix resolved ids into a union.
#[derive(Clone, Default)]
struct Teams(Arc<Mutex<HashMap<String, Vec<ConnectionId>>>>);

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

#[derive(Deserialize, schemars::JsonSchema)]
struct Shout {
    board: String,
    text: String,
}

/// socket.io's `broadcast`: everyone on the board but the sender.
#[action(name = "shout", register = false)]
async fn shout(payload: Shout, cx: ActionContext) -> Result<(), Problem> {
    let to = Recipient::group(payload.board).except(cx.connection_id());
    cx.emit(to, &note(&payload.text)).await.map(drop)
}

fn node(broker: &MemoryBroker, teams: &Teams) -> Dispatcher {
    let registry = Registry::builder()
        .action::<shout>()
        .event::<Note>()
        .resolver::<team>()
        .build()
        .unwrap();
    Dispatcher::builder()
        .registry(registry)
        .broker(broker.clone())
        .state(teams.clone())
        .build()
        .unwrap()
}

/// Every frame queued for `client` now.
fn frames(client: &mut TestClient) -> Vec<Value> {
    client.drain()
}

fn texts(frames: &[Value]) -> Vec<(String, String)> {
    frames
        .iter()
        .map(|frame| {
            (
                frame["payload"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                format!(
                    "{}:{}",
                    frame["recipient"].as_str().unwrap_or_default(),
                    frame["recipient_id"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect()
}

fn pair(text: &str, recipient: &str) -> (String, String) {
    (text.to_owned(), recipient.to_owned())
}

#[tokio::test]
async fn a_connection_several_recipients_reach_gets_the_event_once() {
    let teams = Teams::default();
    let dispatcher = node(&MemoryBroker::new(), &teams);
    let mut bob_on_board = TestClient::connect_as(&dispatcher, "bob".to_owned());
    let mut bob_elsewhere = TestClient::connect_as(&dispatcher, "bob".to_owned());
    let mut alice = TestClient::connect_as(&dispatcher, "alice".to_owned());
    let mut carol = TestClient::connect_as(&dispatcher, "carol".to_owned());
    for client in [&bob_on_board, &alice] {
        dispatcher.join(client.connection_id(), "board").unwrap();
    }
    teams.0.lock().unwrap().insert(
        "red".into(),
        vec![alice.connection_id().clone(), carol.connection_id().clone()],
    );

    let to = Recipient::user("bob")
        .and(Recipient::group("board"))
        .and(Recipient::new("team", "red"));
    let report = dispatcher.emit(to, &note("assigned")).await.unwrap();
    assert_eq!(report.delivered, 4, "{report:?}");

    assert_eq!(
        texts(&frames(&mut bob_on_board)),
        [pair("assigned", "user:bob")]
    );
    assert_eq!(
        texts(&frames(&mut bob_elsewhere)),
        [pair("assigned", "user:bob")]
    );
    assert_eq!(
        texts(&frames(&mut alice)),
        [pair("assigned", "group:board")]
    );
    assert_eq!(texts(&frames(&mut carol)), [pair("assigned", "team:red")]);
}

#[tokio::test]
async fn except_leaves_one_connection_out() {
    let teams = Teams::default();
    let dispatcher = node(&MemoryBroker::new(), &teams);
    let mut sender = TestClient::connect_as(&dispatcher, "alice".to_owned());
    let mut other = TestClient::connect_as(&dispatcher, "bob".to_owned());
    for client in [&sender, &other] {
        dispatcher.join(client.connection_id(), "board").unwrap();
    }
    let frames_of_sender = sender
        .send("shout", json!({ "board": "board", "text": "hi" }))
        .await;
    assert!(frames_of_sender.is_empty(), "{frames_of_sender:?}");
    assert_eq!(texts(&frames(&mut other)), [pair("hi", "group:board")]);

    // The same connection named again in the union stays left out.
    let to = Recipients::from(Recipient::group("board"))
        .and(Recipient::connection(sender.connection_id()))
        .except(sender.connection_id());
    let report = dispatcher.emit(to, &note("again")).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(frames(&mut sender).is_empty());
}

#[tokio::test]
async fn a_union_across_nodes_reaches_each_connection_once() {
    let broker = MemoryBroker::new();
    let teams = Teams::default();
    let node_a = node(&broker, &teams);
    let node_b = node(&broker, &teams);
    let mut bob_b = TestClient::connect_as(&node_b, "bob".to_owned());
    let mut alice_b = TestClient::connect_as(&node_b, "alice".to_owned());
    let mut bob_a = TestClient::connect_as(&node_a, "bob".to_owned());
    node_b.join(bob_b.connection_id(), "board").unwrap();
    node_b.join(alice_b.connection_id(), "board").unwrap();
    teams
        .0
        .lock()
        .unwrap()
        .insert("red".into(), vec![bob_b.connection_id().clone()]);

    let to = Recipient::user("bob")
        .and(Recipient::group("board"))
        .and(Recipient::new("team", "red"))
        .except(alice_b.connection_id());
    let report = node_a.emit(to, &note("once")).await.unwrap();
    assert_eq!(report.delivered, 1, "bob on A: {report:?}");
    assert_eq!(report.published, 1, "one delivery, to node B: {report:?}");

    assert_eq!(texts(&frames(&mut bob_b)), [pair("once", "user:bob")]);
    assert_eq!(texts(&frames(&mut bob_a)), [pair("once", "user:bob")]);
    assert!(frames(&mut alice_b).is_empty());
}

#[test]
fn a_list_of_recipients_must_not_be_empty() {
    assert!(Recipients::try_from(Vec::new()).is_err());
    let from_vec = Recipients::try_from(vec![Recipient::user("a"), Recipient::group("g")]).unwrap();
    assert_eq!(from_vec, Recipient::user("a").and(Recipient::group("g")));
    let from_array = Recipients::from([Recipient::user("a"), Recipient::group("g")]);
    assert_eq!(from_array, from_vec);
}
