//! What the generated code does at run time, through `beeflow_core::testing::TestClient`
//! and explicit registries of `register = false` items.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use beeflow_core::testing::TestClient;
use beeflow_core::{
    ActionContext, BuildError, ConnectionId, Dispatcher, Emit, Event, EventStream, Identity,
    IntoProblem, Problem, Recipient, Registry, State, action, recipient,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize, schemars::JsonSchema)]
struct EchoPayload {
    text: String,
    #[serde(default)]
    inner: Option<Inner>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Inner {
    count: u32,
}

#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "echoed", register = false)]
struct Echoed {
    text: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "tick", register = false)]
struct Tick {
    n: u32,
}

#[derive(Clone)]
struct Prefix(&'static str);

#[derive(Clone)]
struct User {
    name: &'static str,
}

impl beeflow_core::Principal for User {
    fn user_id(&self) -> std::borrow::Cow<'_, str> {
        self.name.into()
    }
}

#[derive(Debug)]
struct Conflict;

impl IntoProblem for Conflict {
    fn into_problem(self) -> Problem {
        Problem::new(409, "conflict", "conflict", "Conflict").with_detail("Already there.")
    }
}

/// Echoes the text back.
///
/// With an optional count.
#[action(name = "echo", register = false)]
async fn echo(payload: EchoPayload, cx: ActionContext) -> Echoed {
    let count = payload.inner.map_or(0, |inner| inner.count);
    assert!(!cx.connection_id().as_str().is_empty());
    Echoed {
        text: format!("{}{}", payload.text, "!".repeat(count as usize)),
    }
}

#[action(name = "prefixed", register = false)]
async fn prefixed(payload: EchoPayload, State(prefix): State<Prefix>) -> Echoed {
    Echoed {
        text: format!("{}{}", prefix.0, payload.text),
    }
}

#[action(name = "whoami", register = false)]
async fn whoami(_payload: Value, Identity(user): Identity<User>) -> Echoed {
    Echoed {
        text: user.name.to_owned(),
    }
}

#[action(name = "unit", register = false)]
async fn unit() {}

#[action(name = "many", register = false)]
async fn many() -> Vec<Tick> {
    (1..=3).map(|n| Tick { n }).collect()
}

#[action(name = "fails", register = false)]
async fn fails() -> Result<Tick, Conflict> {
    Err(Conflict)
}

#[action(name = "emits", register = false)]
async fn emits() -> Result<Vec<Emit>, Problem> {
    Ok(vec![
        Emit::reply(&Tick { n: 1 })?,
        Emit::reply(&Echoed { text: "two".into() })?,
    ])
}

#[action(name = "one_emit", register = false)]
async fn one_emit() -> Result<Emit, Problem> {
    Emit::reply(&Tick { n: 7 })
}

#[action(name = "stream", register = false)]
async fn stream() -> EventStream {
    EventStream::new(futures_util::stream::iter((1..=4).map(|n| Tick { n })))
}

#[derive(Clone, Default)]
struct Teams(Arc<Mutex<HashMap<String, Vec<ConnectionId>>>>);

/// Every connection in a team.
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

#[action(name = "shout", register = false)]
async fn shout(payload: EchoPayload) -> Result<Emit, Problem> {
    Emit::to(
        Recipient::new("team", "red"),
        &Echoed { text: payload.text },
    )
}

fn dispatcher(registry: beeflow_core::registry::RegistryBuilder) -> Dispatcher {
    Dispatcher::builder()
        .registry(registry.build().unwrap())
        .state(Prefix(">> "))
        .build()
        .unwrap()
}

fn registry() -> beeflow_core::registry::RegistryBuilder {
    Registry::builder()
        .action::<echo>()
        .action::<prefixed>()
        .action::<whoami>()
        .action::<unit>()
        .action::<many>()
        .action::<fails>()
        .action::<emits>()
        .action::<one_emit>()
        .action::<stream>()
        .event::<Echoed>()
        .event::<Tick>()
}

fn events(frames: &[Value]) -> Vec<(&str, u64)> {
    frames
        .iter()
        .map(|frame| {
            (
                frame["event"].as_str().unwrap(),
                frame["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_typed_payload_decodes() {
    let dispatcher = dispatcher(registry());
    let mut client = TestClient::connect(&dispatcher);
    let frames = client
        .send("echo", json!({ "text": "hi", "inner": { "count": 2 } }))
        .await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["event"], "echoed");
    assert_eq!(frames[0]["payload"], json!({ "text": "hi!!" }));
    assert_eq!(frames[0]["seq"], 1);
    assert_eq!(frames[0]["recipient"], "websocket");
    assert_eq!(frames[0]["recipient_id"], client.connection_id().as_str());
}

#[tokio::test]
async fn a_wrong_payload_is_a_422_naming_the_path() {
    let dispatcher = dispatcher(registry());
    let mut client = TestClient::connect(&dispatcher);
    let frames = client
        .send("echo", json!({ "text": "hi", "inner": { "count": "two" } }))
        .await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["status"], 422);
    assert_eq!(frames[0]["code"], "invalid_action_payload");
    let detail = frames[0]["detail"].as_str().unwrap();
    assert!(detail.contains("'echo'"), "{detail}");
    assert!(detail.contains("inner.count"), "{detail}");

    let frames = client.send("echo", json!({})).await;
    assert_eq!(frames[0]["status"], 422);
    assert!(
        frames[0]["detail"].as_str().unwrap().contains("text"),
        "{frames:?}"
    );
}

#[tokio::test]
async fn state_is_extracted() {
    let frames = TestClient::connect(&dispatcher(registry()))
        .send("prefixed", json!({ "text": "hi" }))
        .await;
    assert_eq!(frames[0]["payload"]["text"], ">> hi");
}

#[test]
fn a_missing_state_is_a_build_error_naming_the_handler_and_the_type() {
    let error = Dispatcher::builder()
        .registry(registry().build().unwrap())
        .build()
        .unwrap_err();
    let BuildError::MissingState { handler, state } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(handler, "action `prefixed`");
    assert!(state.ends_with("Prefix"), "{state}");
    let message = error.to_string();
    assert!(message.contains("takes `State<"), "{message}");
    assert!(message.contains("DispatcherBuilder::state"), "{message}");

    let error = Dispatcher::builder()
        .registry(Registry::builder().resolver::<team>().build().unwrap())
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("recipient resolver `team` takes `State<"),
        "{error}"
    );
}

#[tokio::test]
async fn identity_is_extracted_and_a_guest_gets_401() {
    let dispatcher = dispatcher(registry());
    let frames = TestClient::connect(&dispatcher)
        .send("whoami", json!({}))
        .await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["status"], 401);

    let frames = TestClient::connect_as(&dispatcher, User { name: "ada" })
        .send("whoami", json!({}))
        .await;
    assert_eq!(frames[0]["payload"]["text"], "ada");
}

#[tokio::test]
async fn an_identity_of_another_type_is_a_500_not_a_401() {
    let dispatcher = dispatcher(registry());
    let frames = TestClient::connect_as(&dispatcher, "ada".to_owned())
        .send("whoami", json!({}))
        .await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["status"], 500);
    assert_eq!(frames[0]["code"], "identity_mismatch");
}

#[test]
fn a_policy_that_never_gives_an_actions_identity_is_reported() {
    use beeflow_core::transport::check_policy;
    use beeflow_core::{HandshakePolicy, HandshakeRequest};

    let dispatcher = dispatcher(registry());
    let as_user = HandshakePolicy::deny_all()
        .authenticate(|_: HandshakeRequest| async { Ok(User { name: "ada" }) });
    assert_eq!(check_policy(&dispatcher, &as_user), []);

    let as_string = HandshakePolicy::deny_all()
        .authenticate(|_: HandshakeRequest| async { Ok("ada".to_owned()) });
    let mismatches = check_policy(&dispatcher, &as_string);
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0].action, "whoami");
    assert!(mismatches[0].wanted.ends_with("User"), "{mismatches:?}");
    assert_eq!(mismatches[0].authenticated, Some("alloc::string::String"));
    let message = mismatches[0].to_string();
    assert!(message.contains("identity_mismatch"), "{message}");

    let guests_only = HandshakePolicy::deny_all().allow_guests();
    let mismatches = check_policy(&dispatcher, &guests_only);
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0].authenticated, None);
    assert_eq!(check_policy(&dispatcher, &HandshakePolicy::deny_all()), []);
}

#[tokio::test]
async fn each_return_shape_produces_its_frames_in_order() {
    let dispatcher = dispatcher(registry());
    let mut client = TestClient::connect(&dispatcher);
    assert!(
        client
            .send("unit", json!({ "anything": [1, 2] }))
            .await
            .is_empty()
    );

    let mut client = TestClient::connect(&dispatcher);
    let frames = client.send("many", json!({})).await;
    assert_eq!(events(&frames), [("tick", 1), ("tick", 2), ("tick", 3)]);
    let ns: Vec<_> = frames.iter().map(|f| f["payload"]["n"].clone()).collect();
    assert_eq!(ns, [json!(1), json!(2), json!(3)]);

    let mut client = TestClient::connect(&dispatcher);
    let frames = client.send("emits", json!({})).await;
    assert_eq!(events(&frames), [("tick", 1), ("echoed", 2)]);
    let frames = client.send("one_emit", json!({})).await;
    assert_eq!(events(&frames), [("tick", 3)]);
    assert_eq!(frames[0]["payload"]["n"], 7);

    let frames = client.send("fails", json!({})).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["status"], 409);
    assert_eq!(frames[0]["code"], "conflict");
}

#[tokio::test]
async fn a_stream_delivers_its_events_in_order() {
    let dispatcher = dispatcher(registry());
    let mut client = TestClient::connect(&dispatcher);
    let frames = client.send("stream", json!({})).await;
    assert_eq!(
        events(&frames),
        [("tick", 1), ("tick", 2), ("tick", 3), ("tick", 4)]
    );
    let ns: Vec<_> = frames
        .iter()
        .map(|f| f["payload"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_resolver_routes_a_custom_recipient() {
    let teams = Teams::default();
    let dispatcher = Dispatcher::builder()
        .registry(
            Registry::builder()
                .action::<shout>()
                .resolver::<team>()
                .build()
                .unwrap(),
        )
        .state(teams.clone())
        .build()
        .unwrap();
    let mut sender = TestClient::connect(&dispatcher);
    let mut member = TestClient::connect(&dispatcher);
    teams
        .0
        .lock()
        .unwrap()
        .insert("red".into(), vec![member.connection_id().clone()]);

    let frames = sender.send("shout", json!({ "text": "hello team" })).await;
    assert!(frames.is_empty(), "{frames:?}");
    let frames = member.drain();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["event"], "echoed");
    assert_eq!(frames[0]["recipient"], "team");
    assert_eq!(frames[0]["recipient_id"], "red");
    assert_eq!(frames[0]["payload"]["text"], "hello team");
    assert_eq!(frames[0]["seq"], 1);
}

#[tokio::test]
async fn a_resolver_whose_extraction_fails_reports_a_problem() {
    let dispatcher = dispatcher(
        Registry::builder()
            .action::<shout>()
            .resolver::<closed_team>(),
    );
    let mut sender = TestClient::connect(&dispatcher);
    let frames = sender.send("shout", json!({ "text": "hello" })).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["status"], 503);
    assert_eq!(frames[0]["code"], "teams_closed");
}

/// An extractor that always fails, as one reading a closed resource would.
struct Closed;

impl beeflow_core::handler::FromContext<beeflow_core::ResolveContext> for Closed {
    fn from_context(_: &beeflow_core::ResolveContext) -> Result<Self, Problem> {
        Err(Problem::new(
            503,
            "teams_closed",
            "teams-closed",
            "Teams closed",
        ))
    }
}

#[recipient(name = "team", register = false)]
async fn closed_team(id: String, _closed: Closed) -> Vec<ConnectionId> {
    let _ = id;
    Vec::new()
}

/// An application error that says which Problem codes it can become.
enum AssignError {
    UnknownTask,
}

impl IntoProblem for AssignError {
    fn into_problem(self) -> Problem {
        match self {
            AssignError::UnknownTask => {
                Problem::new(404, "unknown_task", "unknown-task", "Unknown task")
            }
        }
    }

    fn problem_codes() -> &'static [&'static str] {
        &["unknown_task"]
    }
}

#[action(
    name = "assign",
    register = false,
    emits(Tick, Echoed),
    problems("board_closed", "unknown_task")
)]
async fn assign(_cx: ActionContext) -> Result<Vec<Echoed>, AssignError> {
    Err(AssignError::UnknownTask)
}

#[action(name = "untyped", register = false)]
async fn untyped(_cx: ActionContext) -> Result<Emit, Problem> {
    Emit::reply(&Tick { n: 1 })
}

#[test]
fn replies_come_from_the_return_type_and_the_attribute() {
    let replies = (<assign as beeflow_core::handler::Action>::DEF.replies)();
    assert_eq!(replies.events, ["echoed", "tick"]);
    assert_eq!(replies.problems, ["unknown_task", "board_closed"]);

    let replies = (<untyped as beeflow_core::handler::Action>::DEF.replies)();
    assert!(replies.events.is_empty() && replies.problems.is_empty());
}
