//! Protocol version 2 over real sockets (`docs/protocol.md` §6.1, §6.2): negotiation by the
//! `beeflow.v2` subprotocol, and the completion frame that ends every request.

use beeflow_core::{
    ActionContext, Dispatcher, Event, EventStream, HandshakePolicy, HandshakeRequest, Problem,
    Recipient, Registry, action,
};
use futures_util::stream;
use serde::Serialize;
use serde_json::{Value, json};

use crate::adapters::Adapter;
use crate::support::{Client, Server, envelope_with};

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "tick", register = false)]
struct Tick {
    n: u32,
}

#[action(name = "ticks", register = false)]
async fn ticks(_cx: ActionContext) -> EventStream {
    EventStream::new(stream::iter(1..=3).map(|n| Tick { n }))
}

#[action(name = "refuse", register = false)]
async fn refuse(_cx: ActionContext) -> Result<(), Problem> {
    Err(Problem::new(409, "busy", "busy", "Busy"))
}

/// Emits to a group the sender is not in: the sender gets no event, only the completion.
#[action(name = "elsewhere", register = false)]
async fn elsewhere(cx: ActionContext) -> Result<(), Problem> {
    cx.emit(Recipient::group("nobody-here"), &Tick { n: 0 })
        .await
        .map(drop)
}

use futures_util::StreamExt as _;

fn server(adapter: &dyn Adapter) -> Server {
    let registry = Registry::builder()
        .action::<ticks>()
        .action::<refuse>()
        .action::<elsewhere>()
        .event::<Tick>()
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder().registry(registry).build().unwrap();
    let policy = HandshakePolicy::deny_all().allow_guests().authenticate(
        |request: HandshakeRequest| async move {
            match request.token() {
                Some("s3cret") => Ok("ada".to_owned()),
                _ => Err(Problem::unauthenticated()),
            }
        },
    );
    adapter.spawn(dispatcher, policy)
}

/// Sends `action` and returns every frame up to and including the one that ends it (a
/// completion or a Problem), all of which must carry its `req_id`.
async fn request(client: &mut Client, action: &str) -> Vec<Value> {
    let req_id = uuid::Uuid::new_v4();
    client
        .send_text(&envelope_with(action, json!({}), req_id))
        .await;
    let mut frames = Vec::new();
    loop {
        let frame = client.recv().await;
        assert_eq!(frame["req_id"], req_id.to_string(), "{frame}");
        let terminal = frame.get("done").is_some() || frame.get("status").is_some();
        frames.push(frame);
        if terminal {
            return frames;
        }
    }
}

pub(crate) async fn beeflow_v2_is_selected_when_offered_and_never_the_token(adapter: &dyn Adapter) {
    let server = server(adapter);
    let with_token = server
        .connect_with("/ws/", Some("beeflow.v2, access-token, s3cret"))
        .await;
    assert_eq!(with_token.protocol.as_deref(), Some("beeflow.v2"));
    let alone = server.connect_with("/ws/", Some("beeflow.v2")).await;
    assert_eq!(alone.protocol.as_deref(), Some("beeflow.v2"));
    let v1 = server
        .connect_with("/ws/", Some("access-token, s3cret"))
        .await;
    assert_eq!(v1.protocol.as_deref(), Some("access-token"));
}

pub(crate) async fn every_v2_request_ends_with_one_completion_or_problem(adapter: &dyn Adapter) {
    let server = server(adapter);
    let mut client = server
        .connect_with("/ws/", Some("beeflow.v2, access-token, s3cret"))
        .await;

    let health = request(&mut client, "health").await;
    assert_eq!(health.len(), 2, "{health:?}");
    assert_eq!(health[0]["event"], "health");
    let done = &health[1];
    assert_eq!(done["done"], json!({ "events": 1 }));
    let members: Vec<&str> = done
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // serde_json sorts the members it parsed.
    assert_eq!(members, ["done", "msg_id", "req_id"], "no seq: {done}");

    let streamed = request(&mut client, "ticks").await;
    let events: Vec<&Value> = streamed.iter().map(|f| &f["payload"]["n"]).collect();
    assert_eq!(events[..3], [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(streamed[3]["done"], json!({ "events": 3 }));
    assert_eq!(streamed[2]["seq"], 4, "completions take no seq");

    let refused = request(&mut client, "refuse").await;
    assert_eq!(refused.len(), 1, "the Problem ends it: {refused:?}");
    assert_eq!(refused[0]["code"], "busy");

    let elsewhere = request(&mut client, "elsewhere").await;
    assert_eq!(elsewhere.len(), 1, "no event for the sender: {elsewhere:?}");
    assert_eq!(elsewhere[0]["done"], json!({ "events": 1 }));

    let unknown = request(&mut client, "no-such-action").await;
    assert_eq!(unknown[0]["code"], "unknown_websocket_action");
}

pub(crate) async fn a_v1_client_gets_no_completion(adapter: &dyn Adapter) {
    let server = server(adapter);
    let mut client = server
        .connect_with("/ws/", Some("access-token, s3cret"))
        .await;
    for _ in 0..2 {
        // If a completion followed the event, it would come before the second reply.
        let reply = client.request("health", json!({})).await;
        assert_eq!(reply["event"], "health", "{reply}");
        assert!(reply.get("done").is_none());
    }
    let streamed: Vec<Value> = {
        client
            .send_text(&envelope_with("ticks", json!({}), uuid::Uuid::new_v4()))
            .await;
        let mut frames = Vec::new();
        for _ in 0..3 {
            frames.push(client.recv().await);
        }
        frames
    };
    assert!(
        streamed.iter().all(|f| f["event"] == "tick"),
        "{streamed:?}"
    );
    let next = client.request("health", json!({})).await;
    assert_eq!(next["event"], "health", "no completion in between: {next}");
}
