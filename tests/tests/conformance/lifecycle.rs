//! The application's lifecycle hooks over real sockets: the connect hook joins groups,
//! stores per-connection state for handlers and may refuse the upgrade; the disconnect hook
//! runs once for every admitted connection, however it ends.

use beeflow_core::{
    ActionContext, ConnectContext, ConnectionState, DisconnectContext, Dispatcher, Event,
    HandshakePolicy, HandshakeRequest, Problem, Recipient, Registry, action,
};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::adapters::Adapter;
use crate::support::{Server, TIMEOUT};

/// What the connect hook stores for each connection.
#[derive(Clone)]
struct Nick(String);

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "you", register = false)]
struct You {
    nick: String,
    groups: Vec<String>,
}

#[action(name = "whoami", register = false)]
async fn whoami(cx: ActionContext, ConnectionState(nick): ConnectionState<Nick>) -> You {
    You {
        nick: nick.0,
        groups: cx.groups(),
    }
}

/// Each ended connection, as the disconnect hook saw it: user, groups, nick.
type Ended = mpsc::UnboundedReceiver<(String, Vec<String>, String)>;

fn server(adapter: &dyn Adapter) -> (Server, Dispatcher, Ended) {
    let registry = Registry::builder()
        .action::<whoami>()
        .event::<You>()
        .build()
        .unwrap();
    let (ended, ended_rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::builder()
        .registry(registry)
        .on_connect(|cx: &mut ConnectContext<'_>| {
            let user = cx.user_id().unwrap_or_default().to_owned();
            if user == "mallory" {
                return Err(Problem::new(403, "banned", "banned", "Banned").with_detail("Go away."));
            }
            cx.join("lobby");
            cx.insert(Nick(format!("{user}!")));
            Ok(())
        })
        .on_disconnect(move |cx: &DisconnectContext<'_>| {
            let nick = cx.connection_state::<Nick>().map(|n| n.0.clone());
            let seen = (
                cx.user_id().unwrap_or_default().to_owned(),
                cx.groups().map(str::to_owned).collect(),
                nick.unwrap_or_default(),
            );
            let _ = ended.send(seen);
        })
        .build()
        .unwrap();
    let policy = HandshakePolicy::deny_all().authenticate(|request: HandshakeRequest| async move {
        match request.token() {
            Some(token) => Ok(token.trim_end_matches("-token").to_owned()),
            None => Err(Problem::unauthenticated()),
        }
    });
    let server = adapter.spawn(dispatcher.clone(), policy);
    (server, dispatcher, ended_rx)
}

/// The next connection the disconnect hook saw end.
async fn next_ended(ended: &mut Ended) -> (String, Vec<String>, String) {
    tokio::time::timeout(TIMEOUT, ended.recv())
        .await
        .expect("a connection ended")
        .expect("the dispatcher is alive")
}

pub(crate) async fn the_connect_hook_joins_groups_and_stores_state_for_handlers(
    adapter: &dyn Adapter,
) {
    let (server, dispatcher, _ended) = server(adapter);
    let mut alice = server
        .connect_with("/ws/", Some("access-token, alice-token"))
        .await;
    let you = alice.request("whoami", json!({})).await;
    assert_eq!(
        you["payload"],
        json!({ "nick": "alice!", "groups": ["lobby"] })
    );
    let report = dispatcher
        .emit(
            Recipient::group("lobby"),
            &You {
                nick: "all".into(),
                groups: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(alice.recv().await["payload"]["nick"], "all");
}

pub(crate) async fn the_connect_hook_refuses_with_its_problem(adapter: &dyn Adapter) {
    let (server, dispatcher, mut ended) = server(adapter);
    let response = server
        .raw_upgrade(
            "/ws/",
            &[("Sec-WebSocket-Protocol", "access-token, mallory-token")],
        )
        .await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(response.json()["code"], "banned");
    assert_eq!(response.json()["detail"], "Go away.");
    assert_eq!(dispatcher.stats().connections, 0);
    assert_eq!(dispatcher.stats().groups, 0, "what the hook did is undone");
    assert!(
        ended.try_recv().is_err(),
        "a refused connection never opened"
    );
}

pub(crate) async fn the_disconnect_hook_runs_once_however_a_connection_ends(adapter: &dyn Adapter) {
    let (server, dispatcher, mut ended) = server(adapter);
    let mut alice = server
        .connect_with("/ws/", Some("access-token, alice-token"))
        .await;
    alice.request("whoami", json!({})).await;
    alice.send(Message::Close(None)).await;
    assert!(matches!(
        alice.next_message().await,
        Some(Message::Close(_))
    ));
    let seen = next_ended(&mut ended).await;
    assert_eq!(
        seen,
        ("alice".into(), vec!["lobby".into()], "alice!".into())
    );

    // No close frame: the TCP connection just goes away.
    let mut bob = server
        .connect_with("/ws/", Some("access-token, bob-token"))
        .await;
    bob.request("whoami", json!({})).await;
    drop(bob);
    let seen = next_ended(&mut ended).await;
    assert_eq!(seen, ("bob".into(), vec!["lobby".into()], "bob!".into()));

    // Closed by the server when the node shuts down.
    let mut carol = server
        .connect_with("/ws/", Some("access-token, carol-token"))
        .await;
    carol.request("whoami", json!({})).await;
    dispatcher.shutdown(TIMEOUT).await;
    let seen = next_ended(&mut ended).await;
    assert_eq!(seen.0, "carol");
    assert!(ended.try_recv().is_err(), "once each");
    assert_eq!(dispatcher.stats().groups, 0);
}
