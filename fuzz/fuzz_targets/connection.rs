//! A whole in-memory connection fed arbitrary frames; see `src/checks/connection.rs`.

#![no_main]

use std::sync::OnceLock;

#[path = "../src/checks/mod.rs"]
mod checks;

/// One dispatcher and one runtime for the whole run; every input opens its own
/// connection, so inputs do not depend on each other.
fn harness() -> &'static (tokio::runtime::Runtime, beeflow_core::Dispatcher) {
    static HARNESS: OnceLock<(tokio::runtime::Runtime, beeflow_core::Dispatcher)> = OnceLock::new();
    HARNESS.get_or_init(|| {
        (
            checks::connection::connection_runtime(),
            checks::connection::connection_dispatcher(),
        )
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (runtime, dispatcher) = harness();
    checks::connection::check_connection(runtime, dispatcher, data);
});
