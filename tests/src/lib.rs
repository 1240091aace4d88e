//! What the end-to-end tests in `tests/tests/` (and the benchmarks in `tests/benches/`)
//! share: bounded waits, a minimal HTTP client, and a real `redis-server` process.
//!
//! Every wait here is bounded by [`TIMEOUT`]: a server that stops answering fails the test
//! instead of hanging it.

pub mod actix;
pub mod http;
pub mod raw;
pub mod redis;
pub mod sse;

use std::time::Duration;

/// The longest any test waits for one thing to happen.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Waits until `condition` holds, polling it, for at most [`TIMEOUT`].
///
/// For conditions that no event announces (another process subscribed, a connection was
/// dropped): the test still fails, with `what` in the message, if it never holds.
///
/// # Panics
///
/// When `condition` does not hold within [`TIMEOUT`].
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(doctest)]
mod guides;
