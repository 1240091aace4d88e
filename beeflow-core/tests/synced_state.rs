//! `Synced<T>` in memory: what it publishes (patch or snapshot, coalesced), and what
//! `beeflow.state.get` answers to whom.
#![cfg(feature = "sync")]

use std::collections::BTreeMap;
use std::time::Duration;

use beeflow_core::testing::TestClient;
use beeflow_core::transport::Admission;
use beeflow_core::{Dispatcher, Recipient, SubscriptionRequest, SyncError, Synced};
use serde_json::{Value, json};

#[derive(Debug, serde::Serialize)]
struct Doc {
    title: String,
    body: String,
    notes: BTreeMap<String, String>,
}

impl Default for Doc {
    /// A document whose body outweighs small edits, so they go out as patches.
    fn default() -> Self {
        Self {
            title: String::new(),
            body: "lorem ipsum ".repeat(100),
            notes: BTreeMap::new(),
        }
    }
}

fn dispatcher() -> Dispatcher {
    Dispatcher::builder()
        .authorize_subscriptions(|request: &SubscriptionRequest<'_>| {
            request.topic().as_str() == "doc"
        })
        .build()
        .unwrap()
}

async fn subscriber(dispatcher: &Dispatcher) -> TestClient {
    let mut client = TestClient::admitted(dispatcher, &Admission::guest().v2());
    let frames = client
        .send("beeflow.subscribe", json!({"topic": "doc"}))
        .await;
    assert!(frames[0].get("done").is_some(), "{frames:?}");
    client
}

/// RFC 6902 applied by hand (add/replace/remove on objects): enough to check the ops.
fn apply(state: &mut Value, ops: &Value) {
    for op in ops.as_array().unwrap() {
        let path = op["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let target = state.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        let last = last.replace("~1", "/").replace("~0", "~");
        match op["op"].as_str().unwrap() {
            "add" | "replace" => {
                target.insert(last, op["value"].clone());
            }
            "remove" => {
                target.remove(&last);
            }
            other => panic!("unexpected op {other}"),
        }
    }
}

#[tokio::test]
async fn changes_within_the_window_go_out_as_one_patch_from_the_published_version() {
    let dispatcher = dispatcher();
    let mut client = subscriber(&dispatcher).await;
    let mut doc = Synced::new(&dispatcher, "doc", Recipient::group("doc"), Doc::default())
        .unwrap()
        .with_window(Duration::from_millis(30));
    let mut mirror = serde_json::to_value(&*doc).unwrap();
    for i in 0..10 {
        doc.notes.insert(format!("n{i}"), format!("note {i}"));
        doc.sync().unwrap();
    }
    let patch = client.recv().await;
    assert_eq!(patch["event"], "beeflow.state.patch");
    assert_eq!(patch["recipient"], "group");
    let payload = &patch["payload"];
    assert_eq!(
        (
            payload["key"].as_str(),
            payload["base"].as_u64(),
            payload["version"].as_u64()
        ),
        (Some("doc"), Some(1), Some(2))
    );
    apply(&mut mirror, &payload["ops"]);
    assert_eq!(mirror, serde_json::to_value(&*doc).unwrap());
    assert_eq!(doc.version(), 2);
    // One publication for the ten changes.
    assert!(
        client
            .recv_within(Duration::from_millis(100))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_change_larger_than_half_the_state_goes_out_as_a_snapshot() {
    let dispatcher = dispatcher();
    let mut client = subscriber(&dispatcher).await;
    let mut doc = Synced::new(&dispatcher, "doc", Recipient::group("doc"), Doc::default()).unwrap();
    doc.body = "dolor sit amet ".repeat(100);
    doc.notes.insert("k".into(), "v".into());
    assert!(doc.flush().await.unwrap().is_some());
    let snapshot = client.recv().await;
    assert_eq!(snapshot["event"], "beeflow.state.snapshot");
    assert_eq!(snapshot["payload"]["version"], 2);
    assert_eq!(
        snapshot["payload"]["state"],
        serde_json::to_value(&*doc).unwrap()
    );

    // A small edit of the now larger state is a patch.
    doc.notes.insert("k".into(), "w".into());
    doc.flush().await.unwrap();
    let patch = client.recv().await;
    assert_eq!(patch["event"], "beeflow.state.patch");
    assert_eq!(
        patch["payload"]["ops"],
        json!([{"op": "replace", "path": "/notes/k", "value": "w"}])
    );
}

#[tokio::test]
async fn an_unchanged_value_publishes_nothing() {
    let dispatcher = dispatcher();
    let mut client = subscriber(&dispatcher).await;
    let mut doc = Synced::new(&dispatcher, "doc", Recipient::group("doc"), Doc::default()).unwrap();
    assert!(doc.flush().await.unwrap().is_none());
    doc.sync().unwrap();
    assert!(
        client
            .recv_within(Duration::from_millis(120))
            .await
            .is_none()
    );
    assert_eq!(doc.version(), 1);
}

#[tokio::test]
async fn state_get_answers_connections_the_state_reaches_and_only_them() {
    let dispatcher = dispatcher();
    let mut doc = Synced::new(&dispatcher, "doc", Recipient::group("doc"), Doc::default()).unwrap();
    doc.title = "hello".into();
    doc.flush().await.unwrap();

    let mut member = subscriber(&dispatcher).await;
    let frames = member
        .send("beeflow.state.get", json!({"key": "doc"}))
        .await;
    assert_eq!(frames[0]["event"], "beeflow.state.snapshot");
    let state = serde_json::to_value(&*doc).unwrap();
    assert_eq!(
        frames[0]["payload"],
        json!({"key": "doc", "version": 2, "state": state})
    );
    assert_eq!(frames[1]["done"]["events"], 1);

    // Up to date: only the completion.
    let frames = member
        .send("beeflow.state.get", json!({"key": "doc", "version": 2}))
        .await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["done"]["events"], 0);

    let mut stranger = TestClient::admitted(&dispatcher, &Admission::guest().v2());
    let frames = stranger
        .send("beeflow.state.get", json!({"key": "doc"}))
        .await;
    assert_eq!(frames[0]["code"], "state_denied");
    assert_eq!(frames[0]["status"], 403);
    let frames = stranger
        .send("beeflow.state.get", json!({"key": "nope"}))
        .await;
    assert_eq!(frames[0]["code"], "state_not_found");
    assert_eq!(frames[0]["status"], 404);

    // To a user: their connections may ask, nobody else.
    let _own = Synced::new(
        &dispatcher,
        "ada.prefs",
        Recipient::user("ada"),
        json!({"dark": true}),
    )
    .unwrap();
    let mut ada = TestClient::admitted(
        &dispatcher,
        &Admission::authenticated("ada".to_owned()).v2(),
    );
    let frames = ada
        .send("beeflow.state.get", json!({"key": "ada.prefs"}))
        .await;
    assert_eq!(frames[0]["payload"]["state"], json!({"dark": true}));
    let frames = stranger
        .send("beeflow.state.get", json!({"key": "ada.prefs"}))
        .await;
    assert_eq!(frames[0]["code"], "state_denied");
}

#[tokio::test]
async fn a_key_is_held_by_one_live_synced_state() {
    let dispatcher = dispatcher();
    let first = Synced::new(&dispatcher, "doc", Recipient::group("doc"), 1).unwrap();
    let taken = Synced::new(&dispatcher, "doc", Recipient::group("doc"), 2).unwrap_err();
    assert!(
        matches!(taken, SyncError::KeyTaken(ref key) if key == "doc"),
        "{taken}"
    );
    drop(first);
    let second = Synced::new(&dispatcher, "doc", Recipient::group("doc"), 3).unwrap();
    assert_eq!(*second, 3);
}
