//! An action whose first parameter is a context extractor, or `()`, takes no payload: it
//! accepts any object and publishes `{"type": "object"}`.

use beeflow_core::testing::TestClient;
use beeflow_core::{
    ActionContext, ConnectContext, ConnectionState, Dispatcher, Event, Identity, State, action,
};
use serde_json::json;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "pong")]
struct Pong {
    connection: String,
}

#[action(name = "ping", register = false)]
async fn ping(cx: ActionContext) -> Pong {
    Pong { connection: cx.connection_id().to_string() }
}

#[action(name = "unit", register = false)]
async fn unit(_: (), cx: ActionContext) -> Pong {
    Pong { connection: cx.connection_id().to_string() }
}

#[action(name = "state_first", register = false)]
async fn state_first(State(greeting): State<&'static str>, _cx: ActionContext) -> Pong {
    Pong { connection: greeting.to_owned() }
}

#[action(name = "identity_first", register = false)]
async fn identity_first(who: Option<Identity<String>>) -> Pong {
    Pong { connection: who.map(|Identity(who)| who).unwrap_or_default() }
}

#[action(name = "connection_state_first", register = false)]
async fn connection_state_first(ConnectionState(tab): ConnectionState<u32>) -> Pong {
    Pong { connection: tab.to_string() }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let registry = beeflow_core::Registry::builder()
        .action::<ping>()
        .action::<unit>()
        .action::<state_first>()
        .action::<identity_first>()
        .action::<connection_state_first>()
        .build()
        .unwrap();
    for name in ["ping", "unit", "state_first", "identity_first", "connection_state_first"] {
        let def = registry.action(name).unwrap();
        assert_eq!(def.payload_type, "object", "{name}");
        let mut generator = schemars::SchemaGenerator::default();
        let schema = (def.payload_schema)(&mut generator);
        assert_eq!(schema.as_value(), &json!({ "type": "object" }), "{name}");
    }
    let dispatcher = Dispatcher::builder()
        .registry(registry)
        .state("hello")
        .on_connect(|cx: &mut ConnectContext<'_>| {
            cx.insert(7_u32);
            Ok(())
        })
        .build()
        .unwrap();
    let mut client = TestClient::connect(&dispatcher);
    for (name, payload) in [
        ("ping", json!({})),
        ("unit", json!({ "anything": [1, 2] })),
        ("state_first", json!({})),
        ("identity_first", json!({})),
        ("connection_state_first", json!({})),
    ] {
        let frames = client.send(name, payload).await;
        assert_eq!(frames.len(), 1, "{name}: {frames:?}");
        assert_eq!(frames[0]["event"], "pong", "{name}: {frames:?}");
    }
}
