//! The chat page in a real browser: headless Chromium (Debian's `chromium`), driven by
//! `playwright-core` (`tests/browser/chat.mjs`), against the chat example over 127.0.0.1.
//! Two users log in, see each other in the lobby through presence, talk; one loses her
//! connection and gets what was said meanwhile when she is back (a screenshot of her page
//! then is left in the test's target directory, `browser_chat/chat.png`); one leaves. And
//! the SSE route through the browser's own `EventSource` (`tests/browser/sse.mjs`):
//! resumed with `Last-Event-ID` after the stream is cut.

use std::process::Command;

/// Runs the browser script `script` (in `tests/browser/`) against a fresh chat server, with
/// `args` after the page's URL; fails the test unless it exits 0.
async fn run_in_chromium(script: &'static str, args: Vec<std::ffi::OsString>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatcher = example_chat::dispatcher().build().unwrap();
    let server = tokio::spawn(example_chat::serve(listener, dispatcher));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("browser")
        .join(script);
    // Every step of the script waits at most 10 s, so the run is bounded.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(format!("http://{addr}/"))
            .args(args)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_in_headless_chromium() {
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_chat");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("chat.png");
    let _ = std::fs::remove_file(&screenshot);
    run_in_chromium("chat.mjs", vec![screenshot.clone().into()]).await;
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(size > 0, "no screenshot at {}", screenshot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_source_resumes_with_last_event_id_in_headless_chromium() {
    run_in_chromium("sse.mjs", Vec::new()).await;
}
