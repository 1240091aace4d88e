//! MessagePack clients (`tests/python/msgpack_client.py`, the `msgpack` package's encoder
//! and decoder) against real servers over 127.0.0.1: round trips on both adapters, and one
//! event fanned out to a MessagePack and a JSON connection.

use std::net::SocketAddr;
use std::process::Command;

async fn python(args: Vec<String>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/msgpack_client.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args(&args)
            .output()
            .expect("python3 runs (scripts/test.sh installs `websockets` and `msgpack`)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the MessagePack client failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messagepack_round_trips_against_axum() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_demo_actions::dispatcher(None).unwrap();
    let app = example_quickstart::app(&dispatcher, addr.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let token = example_demo_actions::DEMO_TOKEN.to_owned();
    python(vec!["roundtrip".into(), url(addr), token]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messagepack_round_trips_against_actix() {
    let server = beeflow_tests::actix::ActixQuickstart::start();
    let token = example_demo_actions::DEMO_TOKEN.to_owned();
    python(vec!["roundtrip".into(), url(server.addr), token]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_reaches_messagepack_and_json_connections_alike() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_chat::dispatcher().build().unwrap();
    let app = example_chat::app(dispatcher);
    tokio::spawn(async move { axum::serve(listener, app).await });
    python(vec!["fanout".into(), url(addr)]).await;
}
