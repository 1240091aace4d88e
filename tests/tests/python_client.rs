//! A real Python client (`tests/python/client_compat.py`, written as clients of the Python
//! library are) against the real quickstart servers over 127.0.0.1.

use std::process::Command;

async fn run_python_client(addr: std::net::SocketAddr) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/client_compat.py");
    let url = format!("ws://{addr}/ws/");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(url)
            .output()
            .expect("python3 runs (scripts/test.sh installs the `websockets` package)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the Python client failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_works_unchanged_against_axum() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_demo_actions::dispatcher(None).unwrap();
    let app = example_quickstart::app(&dispatcher, addr.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    run_python_client(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_works_unchanged_against_actix() {
    let server = beeflow_tests::actix::ActixQuickstart::start();
    run_python_client(server.addr).await;
    server.stop().await;
}
