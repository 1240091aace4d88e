//! Version 2's subscriptions and presence over real sockets (`docs/protocol.md` §6.3, §6.5):
//! exact topics and patterns, the hook that denies by default, the problems and the limit,
//! exactly-once delivery where memberships and subscriptions overlap, and who is in a group.

use beeflow_core::{
    ActionContext, Dispatcher, Event, HandshakePolicy, HandshakeRequest, Limits, Problem,
    Recipient, Recipients, Registry, SubscriptionRequest, action,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::adapters::Adapter;
use crate::support::{Client, Server, envelope_with};

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "shouted", register = false)]
struct Shouted {
    text: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Shout {
    groups: Vec<String>,
    text: String,
}

/// Emits one event to the union of `groups`.
#[action(name = "shout", register = false)]
async fn shout(shout: Shout, cx: ActionContext) -> Result<(), Problem> {
    let recipients: Vec<Recipient> = shout.groups.into_iter().map(Recipient::group).collect();
    let recipients = Recipients::try_from(recipients).expect("at least one group");
    cx.emit(recipients, &Shouted { text: shout.text })
        .await
        .map(drop)
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Group {
    group: String,
}

/// Joins the sender to a group server-side.
#[action(name = "join", register = false)]
async fn join(group: Group, cx: ActionContext) {
    cx.join(&group.group);
}

fn registry() -> Registry {
    Registry::builder()
        .action::<shout>()
        .action::<join>()
        .event::<Shouted>()
        .build()
        .unwrap()
}

/// Guests, or users named by their token.
fn policy() -> HandshakePolicy {
    HandshakePolicy::deny_all().allow_guests().authenticate(
        |request: HandshakeRequest| async move {
            request
                .token()
                .map(str::to_owned)
                .ok_or_else(Problem::unauthenticated)
        },
    )
}

/// A server whose hook allows every topic but those under `secret`.
fn server(adapter: &dyn Adapter, limits: Limits) -> (Server, Dispatcher) {
    let dispatcher = Dispatcher::builder()
        .registry(registry())
        .limits(limits)
        .authorize_subscriptions(|request: &SubscriptionRequest<'_>| {
            !request.topic().as_str().starts_with("secret")
        })
        .build()
        .unwrap();
    (adapter.spawn(dispatcher.clone(), policy()), dispatcher)
}

async fn v2(server: &Server, user: Option<&str>) -> Client {
    let protocols = match user {
        Some(user) => format!("beeflow.v2, access-token, {user}"),
        None => "beeflow.v2".to_owned(),
    };
    let client = server.connect_with("/ws/", Some(&protocols)).await;
    assert_eq!(client.protocol.as_deref(), Some("beeflow.v2"));
    client
}

/// Sends one request and returns its frames, the terminal one (completion or Problem) last.
/// Frames of other requests met on the way are returned before.
async fn call(client: &mut Client, action: &str, payload: Value) -> Vec<Value> {
    let req_id = uuid::Uuid::new_v4();
    client
        .send_text(&envelope_with(action, payload, req_id))
        .await;
    let mut frames = Vec::new();
    loop {
        let frame = client.recv().await;
        let terminal = frame["req_id"] == req_id.to_string()
            && (frame.get("done").is_some() || frame.get("status").is_some());
        frames.push(frame);
        if terminal {
            return frames;
        }
    }
}

/// The terminal frame of a request, which must be its only frame.
async fn only(client: &mut Client, action: &str, payload: Value) -> Value {
    let mut frames = call(client, action, payload).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames.pop().unwrap()
}

async fn subscribe(client: &mut Client, topic: &str) {
    let done = only(client, "beeflow.subscribe", json!({ "topic": topic })).await;
    assert_eq!(done["done"], json!({ "events": 0 }), "{done}");
}

/// The texts of the `shouted` events `client` received since its last request: everything
/// queued for it before the answer to a `health` sent now.
async fn heard(client: &mut Client) -> Vec<String> {
    let frames = call(client, "health", json!({})).await;
    frames
        .iter()
        .filter(|f| f["event"] == "shouted")
        .map(|f| f["payload"]["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn shout_to(client: &mut Client, groups: &[&str], text: &str) {
    let done = only(client, "shout", json!({ "groups": groups, "text": text })).await;
    assert!(done.get("done").is_some(), "{done}");
}

pub(crate) async fn patterns_reach_exactly_the_groups_they_match(adapter: &dyn Adapter) {
    let (server, _) = server(adapter, Limits::default());
    let mut star = v2(&server, None).await;
    let mut tail = v2(&server, None).await;
    let mut exact = v2(&server, None).await;
    let mut sender = v2(&server, None).await;
    subscribe(&mut star, "a.*").await;
    subscribe(&mut tail, "a.>").await;
    subscribe(&mut exact, "a.b.c").await;

    shout_to(&mut sender, &["a.b"], "to a.b").await;
    shout_to(&mut sender, &["a.b.c"], "to a.b.c").await;
    shout_to(&mut sender, &["a"], "to a").await;
    assert_eq!(heard(&mut star).await, ["to a.b"]);
    assert_eq!(heard(&mut tail).await, ["to a.b", "to a.b.c"]);
    assert_eq!(heard(&mut exact).await, ["to a.b.c"]);
    assert!(heard(&mut sender).await.is_empty(), "the sender is in none");

    let done = only(&mut tail, "beeflow.unsubscribe", json!({ "topic": "a.>" })).await;
    assert_eq!(done["done"], json!({ "events": 0 }));
    shout_to(&mut sender, &["a.b"], "after").await;
    assert!(heard(&mut tail).await.is_empty(), "unsubscribed");
    assert_eq!(heard(&mut star).await, ["after"]);
}

pub(crate) async fn an_event_reaches_a_connection_once_however_many_ways_it_matches(
    adapter: &dyn Adapter,
) {
    let (server, _) = server(adapter, Limits::default());
    let mut client = v2(&server, None).await;
    let mut sender = v2(&server, None).await;
    assert!(only(&mut client, "join", json!({ "group": "room.1" })).await["done"].is_object());
    for topic in ["room.1", "room.*", "room.>", ">"] {
        subscribe(&mut client, topic).await;
    }
    shout_to(&mut sender, &["room.1"], "one group").await;
    shout_to(&mut sender, &["room.1", "room.2", "other"], "three groups").await;
    assert_eq!(heard(&mut client).await, ["one group", "three groups"]);

    // A server-side member that also subscribed stays a member when it unsubscribes.
    only(
        &mut client,
        "beeflow.unsubscribe",
        json!({ "topic": "room.1" }),
    )
    .await;
    for topic in ["room.*", "room.>", ">"] {
        only(
            &mut client,
            "beeflow.unsubscribe",
            json!({ "topic": topic }),
        )
        .await;
    }
    shout_to(&mut sender, &["room.1"], "joined still").await;
    shout_to(&mut sender, &["room.2"], "not any more").await;
    assert_eq!(heard(&mut client).await, ["joined still"]);
}

pub(crate) async fn subscriptions_are_denied_without_a_hook_and_by_it(adapter: &dyn Adapter) {
    let dispatcher = Dispatcher::builder().registry(registry()).build().unwrap();
    let bare = adapter.spawn(dispatcher, policy());
    let mut client = v2(&bare, None).await;
    let denied = only(&mut client, "beeflow.subscribe", json!({ "topic": "news" })).await;
    assert_eq!(denied["code"], "subscription_denied", "{denied}");
    assert_eq!(denied["status"], 403);
    let asked = only(&mut client, "beeflow.presence", json!({ "topic": "news" })).await;
    assert_eq!(asked["code"], "subscription_denied", "{asked}");

    let (server, _) = server(adapter, Limits::default());
    let mut client = v2(&server, None).await;
    let denied = only(
        &mut client,
        "beeflow.subscribe",
        json!({ "topic": "secret.*" }),
    )
    .await;
    assert_eq!(denied["code"], "subscription_denied");
    assert_eq!(
        denied["detail"],
        "This connection may not subscribe to 'secret.*'."
    );
    let since = json!({ "topic": "secret", "since": { "epoch": "e", "offset": 1 } });
    let denied = only(&mut client, "beeflow.subscribe", since).await;
    assert_eq!(
        denied["code"], "subscription_denied",
        "a recovery too: {denied}"
    );
    subscribe(&mut client, "public.*").await;
}

pub(crate) async fn malformed_topics_and_the_limit_get_problems(adapter: &dyn Adapter) {
    let (server, _) = server(adapter, Limits::default().with_max_subscriptions(2));
    let mut client = v2(&server, None).await;
    for topic in ["", "a..b", "a.>.b", "a*", &"x".repeat(256)] {
        let refused = only(&mut client, "beeflow.subscribe", json!({ "topic": topic })).await;
        assert_eq!(refused["code"], "invalid_topic", "{topic}: {refused}");
        assert_eq!(refused["status"], 422);
    }
    let pattern_presence = json!({ "topic": "a.*", "presence": true });
    let refused = only(&mut client, "beeflow.subscribe", pattern_presence).await;
    assert_eq!(refused["code"], "invalid_topic", "{refused}");
    let unknown_member = json!({ "topic": "a", "since": 3 });
    let refused = only(&mut client, "beeflow.subscribe", unknown_member).await;
    assert_eq!(refused["code"], "invalid_action_payload", "{refused}");

    subscribe(&mut client, "one").await;
    subscribe(&mut client, "two.*").await;
    subscribe(&mut client, "one").await;
    let over = only(
        &mut client,
        "beeflow.subscribe",
        json!({ "topic": "three" }),
    )
    .await;
    assert_eq!(over["code"], "too_many_subscriptions", "{over}");
    assert_eq!(over["status"], 429);
    only(
        &mut client,
        "beeflow.unsubscribe",
        json!({ "topic": "one" }),
    )
    .await;
    subscribe(&mut client, "three").await;
}

pub(crate) async fn a_v1_client_does_not_see_the_built_ins(adapter: &dyn Adapter) {
    let (server, _) = server(adapter, Limits::default());
    let mut client = server.connect().await;
    for action in [
        "beeflow.subscribe",
        "beeflow.presence",
        "beeflow.unsubscribe",
    ] {
        let reply = client.request(action, json!({ "topic": "a" })).await;
        assert_eq!(reply["code"], "unknown_websocket_action", "{reply}");
    }
}

/// The next `beeflow.join` / `beeflow.leave` notice, as (event, user).
async fn notice(client: &mut Client) -> (String, String) {
    let frame = client.recv().await;
    let event = frame["event"].as_str().unwrap_or_default().to_owned();
    assert!(
        event == "beeflow.join" || event == "beeflow.leave",
        "{frame}"
    );
    assert_eq!(frame["recipient"], "group");
    assert_eq!(frame["recipient_id"], "lobby");
    assert_eq!(frame["payload"]["topic"], "lobby");
    (event, frame["payload"]["user"].as_str().unwrap().to_owned())
}

pub(crate) async fn presence_is_a_snapshot_then_joins_and_leaves(adapter: &dyn Adapter) {
    let (server, dispatcher) = server(adapter, Limits::default());
    let mut ada = v2(&server, Some("ada")).await;
    let watch = json!({ "topic": "lobby", "presence": true });
    let frames = call(&mut ada, "beeflow.subscribe", watch.clone()).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["event"], "beeflow.presence");
    assert_eq!(
        frames[0]["payload"],
        json!({ "topic": "lobby", "members": [{ "user": "ada", "connections": 1 }], "guests": 0 })
    );
    assert_eq!(frames[1]["done"], json!({ "events": 1 }));

    // Bob's first connection joins (server-side) and his second changes nothing ada sees.
    let mut bob = v2(&server, Some("bob")).await;
    only(&mut bob, "join", json!({ "group": "lobby" })).await;
    assert_eq!(
        notice(&mut ada).await,
        ("beeflow.join".into(), "bob".into())
    );
    let mut bob_again = v2(&server, Some("bob")).await;
    subscribe(&mut bob_again, "lobby").await;
    let mut guest = v2(&server, None).await;
    subscribe(&mut guest, "lobby").await;

    let expected = json!({
        "topic": "lobby",
        "members": [
            { "user": "ada", "connections": 1 },
            { "user": "bob", "connections": 2 },
        ],
        "guests": 1,
    });
    let asked = call(&mut guest, "beeflow.presence", json!({ "topic": "lobby" })).await;
    assert_eq!(asked[0]["payload"], expected);
    let server_side = dispatcher.presence("lobby").await.unwrap();
    assert_eq!(serde_json::to_value(&server_side).unwrap(), expected);

    drop(bob);
    drop(guest);
    only(
        &mut bob_again,
        "beeflow.unsubscribe",
        json!({ "topic": "lobby" }),
    )
    .await;
    assert_eq!(
        notice(&mut ada).await,
        ("beeflow.leave".into(), "bob".into())
    );
    let after = call(&mut ada, "beeflow.presence", json!({ "topic": "lobby" })).await;
    assert_eq!(
        after[0]["payload"],
        json!({ "topic": "lobby", "members": [{ "user": "ada", "connections": 1 }], "guests": 0 }),
        "bob's first connection and the guest left when their sockets closed"
    );
}
