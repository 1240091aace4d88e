//! Version 2's stream positions and recovery over real sockets (`docs/protocol.md` §6.4):
//! events to groups and users carry `offset` and `epoch`, a client that comes back replays
//! what it missed with `beeflow.subscribe` and `since` or with `beeflow.recover`, and a
//! recovery that cannot be complete replays nothing.

use std::time::Duration;

use beeflow_core::{
    ActionContext, Dispatcher, Event, HandshakePolicy, HandshakeRequest, Limits, Problem,
    RateLimits, Recipient, Registry, SubscriptionRequest, action,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::adapters::Adapter;
use crate::support::{Client, Server, envelope_with};

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "note", register = false)]
struct Note {
    n: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Tell {
    user: String,
    n: u64,
}

/// Sends a note to every connection of a user.
#[action(name = "tell", register = false)]
async fn tell(tell: Tell, cx: ActionContext) -> Result<(), Problem> {
    cx.emit(Recipient::user(tell.user), &Note { n: tell.n })
        .await
        .map(drop)
}

/// A server whose hook allows every topic. Rate limits are off: some tests reconnect
/// faster than the default upgrade rate allows.
fn server(adapter: &dyn Adapter, limits: Limits) -> (Server, Dispatcher) {
    let registry = Registry::builder()
        .action::<tell>()
        .event::<Note>()
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder()
        .registry(registry)
        .limits(limits)
        .rate_limits(RateLimits::off())
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        .build()
        .unwrap();
    let policy = HandshakePolicy::deny_all().allow_guests().authenticate(
        |request: HandshakeRequest| async move {
            request
                .token()
                .map(str::to_owned)
                .ok_or_else(Problem::unauthenticated)
        },
    );
    (adapter.spawn(dispatcher.clone(), policy), dispatcher)
}

async fn v2(server: &Server, user: Option<&str>) -> Client {
    let protocols = match user {
        Some(user) => format!("beeflow.v2, access-token, {user}"),
        None => "beeflow.v2".to_owned(),
    };
    server.connect_with("/ws/", Some(&protocols)).await
}

/// Sends a request and returns its frames, the terminal one last.
async fn call(client: &mut Client, action: &str, payload: Value) -> Vec<Value> {
    let req_id = uuid::Uuid::new_v4();
    client
        .send_text(&envelope_with(action, payload, req_id))
        .await;
    let mut frames = Vec::new();
    loop {
        let frame = client.recv().await;
        let ends = frame["req_id"] == req_id.to_string()
            && (frame.get("done").is_some() || frame.get("code").is_some());
        frames.push(frame);
        if ends {
            return frames;
        }
    }
}

async fn publish(dispatcher: &Dispatcher, group: &str, from: u64, to: u64) {
    for n in from..=to {
        dispatcher
            .emit(Recipient::group(group.to_owned()), &Note { n })
            .await
            .unwrap();
    }
}

/// The next `count` notes, as (n, offset), checking each carries the stream's position.
async fn notes(client: &mut Client, count: usize, epoch: &str) -> Vec<(u64, u64)> {
    let mut notes = Vec::new();
    while notes.len() < count {
        let frame = client.recv().await;
        assert_eq!(frame["event"], "note", "{frame}");
        assert_eq!(frame["epoch"], epoch, "{frame}");
        notes.push((
            frame["payload"]["n"].as_u64().unwrap(),
            frame["offset"].as_u64().unwrap(),
        ));
    }
    notes
}

pub(crate) async fn a_client_that_comes_back_recovers_what_it_missed(adapter: &dyn Adapter) {
    let (server, dispatcher) = server(adapter, Limits::default());
    let mut first = v2(&server, None).await;
    call(&mut first, "beeflow.subscribe", json!({ "topic": "news" })).await;
    publish(&dispatcher, "news", 1, 3).await;
    let frame = first.recv().await;
    assert_eq!(frame["offset"], 1, "{frame}");
    let epoch = frame["epoch"].as_str().unwrap().to_owned();
    assert_eq!(notes(&mut first, 2, &epoch).await, [(2, 2), (3, 3)]);
    drop(first);

    publish(&dispatcher, "news", 4, 5).await;
    let mut back = v2(&server, None).await;
    let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": 3 } });
    let frames = call(&mut back, "beeflow.subscribe", since).await;
    assert_eq!(frames.len(), 3, "{frames:?}");
    let replayed: Vec<(u64, u64, u64)> = frames[..2]
        .iter()
        .map(|f| {
            assert_eq!(f["epoch"], epoch.as_str());
            let n = f["payload"]["n"].as_u64().unwrap();
            (n, f["offset"].as_u64().unwrap(), f["seq"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(replayed, [(4, 4, 1), (5, 5, 2)], "in order, with fresh seq");
    assert_eq!(frames[2]["done"], json!({ "events": 0, "recovered": true }));
    publish(&dispatcher, "news", 6, 6).await;
    assert_eq!(
        notes(&mut back, 1, &epoch).await,
        [(6, 6)],
        "live after the replay"
    );
}

pub(crate) async fn a_recovery_that_cannot_be_complete_replays_nothing(adapter: &dyn Adapter) {
    let limits = Limits::default()
        .with_history(3, Duration::from_secs(60))
        .with_max_recovery(2);
    let (server, dispatcher) = server(adapter, limits);
    let mut watcher = v2(&server, None).await;
    call(
        &mut watcher,
        "beeflow.subscribe",
        json!({ "topic": "news" }),
    )
    .await;
    publish(&dispatcher, "news", 1, 6).await;
    let epoch = watcher.recv().await["epoch"].as_str().unwrap().to_owned();

    let mut client = v2(&server, None).await;
    for (epoch, offset, why) in [
        (epoch.as_str(), 1, "events 2 and 3 are no longer kept"),
        (epoch.as_str(), 3, "3 missed, more than the limit of 2"),
        ("other", 5, "another epoch"),
        (epoch.as_str(), 9, "an offset the stream never reached"),
    ] {
        let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": offset } });
        let frames = call(&mut client, "beeflow.subscribe", since).await;
        assert_eq!(frames.len(), 1, "{why}: {frames:?}");
        assert_eq!(
            frames[0]["done"],
            json!({ "events": 0, "recovered": false }),
            "{why}"
        );
    }
    let since = json!({ "topic": "news", "since": { "epoch": epoch, "offset": 4 } });
    let frames = call(&mut client, "beeflow.subscribe", since).await;
    assert_eq!(frames.len(), 3, "5 and 6 are kept: {frames:?}");

    let pattern = json!({ "topic": "news.*", "since": { "epoch": epoch, "offset": 4 } });
    let refused = call(&mut client, "beeflow.subscribe", pattern).await;
    assert_eq!(refused[0]["code"], "invalid_topic");
}

pub(crate) async fn v2_frames_carry_the_position_and_the_event_id_and_v1_frames_do_not(
    adapter: &dyn Adapter,
) {
    let (server, dispatcher) = server(adapter, Limits::default());
    let mut one = v2(&server, None).await;
    let mut two = v2(&server, None).await;
    let mut old = server.connect().await;
    for client in [&mut one, &mut two] {
        call(client, "beeflow.subscribe", json!({ "topic": "room" })).await;
    }
    // The version-1 client is in the group through a server-side join.
    let old_id = {
        let health = old.request("health", json!({})).await;
        health["recipient_id"].as_str().unwrap().to_owned()
    };
    dispatcher
        .join(&beeflow_core::ConnectionId::new(old_id), "room")
        .unwrap();
    publish(&dispatcher, "room", 1, 1).await;
    let (a, b, v1) = (one.recv().await, two.recv().await, old.recv().await);
    assert_eq!(a["msg_id"], b["msg_id"], "one id for the event");
    assert_eq!(
        (a["offset"].as_u64(), b["offset"].as_u64()),
        (Some(1), Some(1))
    );
    let members: Vec<&str> = v1.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        members,
        [
            "event",
            "msg_id",
            "payload",
            "recipient",
            "recipient_id",
            "seq"
        ],
        "version 1 unchanged: {v1}"
    );
    assert_ne!(v1["msg_id"], a["msg_id"]);

    // One emit to two groups is one event: the same id through either.
    call(&mut two, "beeflow.unsubscribe", json!({ "topic": "room" })).await;
    call(&mut two, "beeflow.subscribe", json!({ "topic": "hall" })).await;
    let both = Recipient::group("room").and(Recipient::group("hall"));
    dispatcher.emit(both, &Note { n: 2 }).await.unwrap();
    let (a, b) = (one.recv().await, two.recv().await);
    assert_eq!(
        (a["recipient_id"].as_str(), b["recipient_id"].as_str()),
        (Some("room"), Some("hall"))
    );
    assert_eq!(a["msg_id"], b["msg_id"], "{a} {b}");
}

pub(crate) async fn a_user_recovers_its_own_stream(adapter: &dyn Adapter) {
    let (server, _) = server(adapter, Limits::default());
    let mut ada = v2(&server, Some("ada")).await;
    let mut bob = v2(&server, Some("bob")).await;
    call(&mut bob, "tell", json!({ "user": "ada", "n": 1 })).await;
    let frame = ada.recv().await;
    assert_eq!(
        (frame["recipient"].as_str(), frame["offset"].as_u64()),
        (Some("user"), Some(1))
    );
    let epoch = frame["epoch"].as_str().unwrap().to_owned();
    drop(ada);
    for n in 2..=3 {
        call(&mut bob, "tell", json!({ "user": "ada", "n": n })).await;
    }
    let mut ada = v2(&server, Some("ada")).await;
    let since = json!({ "since": { "epoch": epoch, "offset": 1 } });
    let frames = call(&mut ada, "beeflow.recover", since).await;
    let offsets: Vec<u64> = frames[..2]
        .iter()
        .map(|f| f["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [2, 3]);
    assert_eq!(frames[2]["done"], json!({ "events": 0, "recovered": true }));

    let mut guest = v2(&server, None).await;
    let since = json!({ "since": { "epoch": epoch, "offset": 1 } });
    let refused = call(&mut guest, "beeflow.recover", since).await;
    assert_eq!(refused[0]["code"], "unauthenticated");
    assert_eq!(refused[0]["status"], 401);
}

pub(crate) async fn events_published_during_a_recovery_are_neither_lost_nor_doubled(
    adapter: &dyn Adapter,
) {
    let (server, dispatcher) = server(
        adapter,
        Limits::default().with_history(1000, Duration::from_secs(60)),
    );
    let mut first = v2(&server, None).await;
    call(&mut first, "beeflow.subscribe", json!({ "topic": "busy" })).await;
    publish(&dispatcher, "busy", 1, 1).await;
    let epoch = first.recv().await["epoch"].as_str().unwrap().to_owned();
    drop(first);
    for round in 0..20u64 {
        let base = 1 + round * 40;
        // Ten missed, thirty more published while the client recovers.
        publish(&dispatcher, "busy", base + 1, base + 10).await;
        let publisher = {
            let dispatcher = dispatcher.clone();
            tokio::spawn(async move {
                for n in base + 11..=base + 40 {
                    publish(&dispatcher, "busy", n, n).await;
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut client = v2(&server, None).await;
        let since = json!({ "topic": "busy", "since": { "epoch": epoch, "offset": base } });
        let frames = call(&mut client, "beeflow.subscribe", since).await;
        let done = frames.last().unwrap();
        assert_eq!(done["done"]["recovered"], true, "round {round}: {done}");
        publisher.await.unwrap();
        let mut offsets: Vec<u64> = frames.iter().filter_map(|f| f["offset"].as_u64()).collect();
        while offsets.last() != Some(&(base + 40)) {
            let frame = client.recv().await;
            offsets.push(frame["offset"].as_u64().unwrap());
        }
        let expected: Vec<u64> = (base + 1..=base + 40).collect();
        assert_eq!(offsets, expected, "round {round}");
    }
}
