//! The invariants the fuzz targets check, shared with the corpus replay test.
//!
//! The fuzz targets (`fuzz/fuzz_targets/*.rs`) and the stable-toolchain test
//! `beeflow-core/tests/fuzz_corpus.rs` both include this file as a module with
//! `#[path]`, so a corpus input is judged the same way under libFuzzer and in CI.
//! Every check panics when an invariant does not hold; that panic is what
//! libFuzzer reports as a crash.
//!
//! Only `beeflow_core`'s public API and crates it depends on anyway (`serde`,
//! `serde_json`, `uuid`, `tokio`) are used here, so both crates can build it.
//!
//! The invariants come from `docs/protocol.md`: §1 (the action envelope and its
//! JSON dialect), §2 and §3 (the event and problem replies) and §5 (the UUID
//! spellings). Where a reference is needed, it is either `serde_json` on inputs
//! where its dialect and Python's provably agree, or a small independent
//! re-implementation of the documented rule, never the code under test; the
//! `connection` checks take `parse_action`'s verdict on a frame as given and
//! check what the connection does with it.

// Each fuzz target uses only its own part of this module.
#![allow(dead_code)]

use std::fmt;

use ::uuid::Uuid;
use beeflow_core::Dispatcher;
use beeflow_core::envelope::{InvalidMessage, parse_action, parse_uuid};
use beeflow_core::testing::{TEST_PATH, TestClient};
use beeflow_core::transport::Outgoing;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

/// The fixed detail of `invalid_websocket_message` (`docs/protocol.md` §3).
const INVALID_MESSAGE_DETAIL: &str = "Message must contain valid UUID 'msg_id' and 'req_id', \
     a non-empty 'action' string, and an object 'payload'.";

/// How many characters of a client's text a problem detail repeats (`docs/errors.md`).
const ECHO_LIMIT: usize = 100;

/// Frames one connection input is split into at most, to bound the time per input.
pub(crate) const MAX_FRAMES: usize = 64;

pub(crate) mod connection;
pub(crate) mod envelope;
pub(crate) mod uuid;
