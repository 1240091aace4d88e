//! The task-board example's whole flow, driven by a Python `websockets` client as two users
//! (`tests/python/task_board.py`) against the example's router over 127.0.0.1.

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_work_on_a_board_from_python() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_task_board::dispatcher().unwrap();
    let app = example_task_board::app(&dispatcher);
    let server = tokio::spawn(beeflow_axum::serve(
        listener,
        app,
        dispatcher,
        std::future::pending(),
    ));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/task_board.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(format!("http://{addr}"))
            .output()
            .expect("python3 runs (scripts/test.sh installs the `websockets` package)")
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        output.status.success(),
        "the Python client failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
