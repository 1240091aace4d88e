//! What synced state (`Synced<T>`, feature `sync`) shares with the node: each key's last
//! published state and version, read by `beeflow.state.get`, and the two events it sends
//! (`docs/protocol.md` §6.6).
//!
//! A leaf: the node owns the store and contexts reach it, while `Synced` (which emits
//! through a context's node) sits above both.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::event::Event;
use crate::recipient::Recipient;

/// `beeflow.state.patch`: what changed between version `base` and `version` of the state
/// under `key`, as RFC 6902 operations.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BeeflowStatePatch")]
pub(crate) struct StatePatch {
    /// The state's key.
    pub(crate) key: String,
    /// The version the operations apply to.
    pub(crate) base: u64,
    /// The version they make.
    pub(crate) version: u64,
    /// RFC 6902 operations, applied in order.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub(crate) ops: Box<RawValue>,
}

impl Event for StatePatch {
    const NAME: &'static str = "beeflow.state.patch";
}

/// `beeflow.state.snapshot`: the whole state under `key` at `version`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BeeflowStateSnapshot")]
pub(crate) struct StateSnapshot {
    /// The state's key.
    pub(crate) key: String,
    /// Its version: 1 when first published, one more at every change.
    pub(crate) version: u64,
    /// The state.
    #[schemars(with = "serde_json::Value")]
    pub(crate) state: Box<RawValue>,
}

impl Event for StateSnapshot {
    const NAME: &'static str = "beeflow.state.snapshot";
}

/// A state as clients last saw it.
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) version: u64,
    pub(crate) value: serde_json::Value,
    pub(crate) text: Box<RawValue>,
}

/// One key's state: what was published, and the newest value not yet published.
#[derive(Debug)]
pub(crate) struct StateCell {
    pub(crate) key: Arc<str>,
    pub(crate) to: Recipient,
    /// Held across a publication, so versions go out in order and a snapshot is never
    /// between two of them.
    pub(crate) published: tokio::sync::Mutex<Published>,
    /// The published version, readable without waiting for a publication.
    pub(crate) version: AtomicU64,
    pub(crate) pending: Mutex<Option<serde_json::Value>>,
    /// Whether a publication of `pending` is already scheduled.
    pub(crate) scheduled: AtomicBool,
}

/// Every synced state of a node, by key.
#[derive(Debug, Default)]
pub(crate) struct SyncStore {
    cells: Mutex<HashMap<Arc<str>, Arc<StateCell>>>,
}

impl SyncStore {
    /// Adds `cell`; `false` (and nothing added) when its key is taken.
    pub(crate) fn insert(&self, cell: Arc<StateCell>) -> bool {
        let mut cells = self.cells.lock().expect("sync store lock");
        if cells.contains_key(&cell.key) {
            return false;
        }
        cells.insert(cell.key.clone(), cell);
        true
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<StateCell>> {
        self.cells
            .lock()
            .expect("sync store lock")
            .get(key)
            .cloned()
    }

    pub(crate) fn remove(&self, key: &str) {
        self.cells.lock().expect("sync store lock").remove(key);
    }
}
