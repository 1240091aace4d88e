//! The chat page in a real browser: headless Chromium (Debian's `chromium`), driven by
//! `playwright-core` (`tests/browser/chat.mjs`), against the chat example over 127.0.0.1.
//! Two users log in, see each other in the lobby through presence, talk; one loses her
//! connection and gets what was said meanwhile when she is back (a screenshot of her page
//! then is left in the test's target directory, `browser_chat/chat.png`); one leaves. And
//! the SSE route through the browser's own `EventSource` (`tests/browser/sse.mjs`):
//! resumed with `Last-Event-ID` after the stream is cut.

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_in_headless_chromium() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_chat::dispatcher().build().unwrap();
    let server = tokio::spawn(example_chat::serve(listener, dispatcher));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/chat.mjs");
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_chat");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("chat.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = screenshot.clone();
    // Every step of the script waits at most 10 s, so the run is bounded.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(format!("http://{addr}/"))
            .arg(&shot)
            .output()
            .expect("node runs (scripts/test.sh installs chromium and playwright-core)")
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        output.status.success(),
        "the browser run failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(size > 0, "no screenshot at {}", screenshot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_source_resumes_with_last_event_id_in_headless_chromium() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_chat::dispatcher().build().unwrap();
    let server = tokio::spawn(example_chat::serve(listener, dispatcher));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/sse.mjs");
    // Every step of the script waits at most 10 s, so the run is bounded.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(format!("http://{addr}/"))
            .output()
            .expect("node runs (scripts/test.sh installs chromium and playwright-core)")
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        output.status.success(),
        "the browser run failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
