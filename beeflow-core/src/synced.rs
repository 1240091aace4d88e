//! [`Synced<T>`]: a value the application owns and mutates, kept equal on every client it
//! is addressed to by JSON Patch events (`docs/protocol.md` §6.6).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::context::{ActionContext, Runtime};
use crate::dispatch::Dispatcher;
use crate::event::Emit;
use crate::hub::DeliveryReport;
use crate::problem::Problem;
use crate::recipient::Recipient;
use crate::sync_store::{Published, StateCell, StatePatch, StateSnapshot};

/// Why a [`Synced`] could not be made or synced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Another live `Synced` of this node has the key.
    #[error("the synced state key '{0}' is taken on this node")]
    KeyTaken(String),
    /// The value does not serialize to JSON.
    #[error("the synced state '{key}' does not serialize to JSON: {source}")]
    Serialize {
        /// The state's key.
        key: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// `sync` was called outside a Tokio runtime, which publishes the change.
    #[error("the synced state '{0}' was synced outside a Tokio runtime")]
    NoRuntime(String),
}

/// Where a [`Synced`] publishes: a [`Dispatcher`], or the context of a running action
/// (`&dispatcher` and `&cx` both convert).
pub struct SyncedHost(Arc<dyn Runtime>);

impl From<&Dispatcher> for SyncedHost {
    fn from(dispatcher: &Dispatcher) -> Self {
        Self(dispatcher.runtime())
    }
}

impl From<&ActionContext> for SyncedHost {
    fn from(cx: &ActionContext) -> Self {
        Self(cx.runtime.clone())
    }
}

impl fmt::Debug for SyncedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncedHost").finish_non_exhaustive()
    }
}

/// A value kept in sync with the clients an event to its recipient reaches.
///
/// The application owns it and mutates it through `DerefMut`; [`sync`](Synced::sync)
/// then publishes what changed: every change within the coalescing window (50 ms by
/// default) goes out as one `beeflow.state.patch` event (RFC 6902 operations from the
/// last published version), or as a `beeflow.state.snapshot` when the operations would be
/// larger than half the state. Either is serialized once for every connection it reaches,
/// and both are ordinary events: a client that recovers a group's stream replays them.
/// A client that joins late, or finds a patch whose `base` is not its version, asks with
/// `beeflow.state.get`, answered from the last published state.
///
/// ```
/// use beeflow_core::{Dispatcher, Recipient, Synced};
///
/// #[derive(serde::Serialize, Default)]
/// struct Board {
///     cards: Vec<String>,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dispatcher = Dispatcher::builder().build()?;
/// let mut board = Synced::new(&dispatcher, "board", Recipient::group("board"), Board::default())?;
/// board.cards.push("write the docs".into());
/// board.sync()?; // published within 50 ms, with whatever else changes meanwhile
/// board.flush().await?; // or now
/// assert_eq!(board.version(), 2);
/// # Ok(())
/// # }
/// ```
pub struct Synced<T> {
    value: T,
    cell: Arc<StateCell>,
    runtime: Arc<dyn Runtime>,
    window: Duration,
}

impl<T: Serialize> Synced<T> {
    /// How long changes are gathered into one publication unless set otherwise.
    pub const DEFAULT_WINDOW: Duration = Duration::from_millis(50);

    /// Makes `value` the state under `key` (version 1), sent to `to` from now on.
    ///
    /// # Errors
    ///
    /// [`SyncError::KeyTaken`] while another `Synced` of this node has `key`;
    /// [`SyncError::Serialize`] when `value` does not serialize.
    pub fn new(
        host: impl Into<SyncedHost>,
        key: impl Into<Arc<str>>,
        to: Recipient,
        value: T,
    ) -> Result<Self, SyncError> {
        let SyncedHost(runtime) = host.into();
        let key: Arc<str> = key.into();
        let serialized = serde_json::to_value(&value).map_err(|source| SyncError::Serialize {
            key: key.to_string(),
            source,
        })?;
        let text = to_raw(&serialized);
        let cell = Arc::new(StateCell {
            key: key.clone(),
            to,
            published: tokio::sync::Mutex::new(Published {
                version: 1,
                value: serialized,
                text,
            }),
            version: AtomicU64::new(1),
            pending: std::sync::Mutex::new(None),
            scheduled: AtomicBool::new(false),
        });
        if !runtime.sync_store().insert(cell.clone()) {
            return Err(SyncError::KeyTaken(key.to_string()));
        }
        Ok(Self {
            value,
            cell,
            runtime,
            window: Self::DEFAULT_WINDOW,
        })
    }

    /// Gathers the changes of `window` into one publication (zero: each `sync` publishes
    /// on its own).
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Publishes the value as it is now, at the end of the coalescing window; a value
    /// equal to the published one publishes nothing.
    ///
    /// # Errors
    ///
    /// [`SyncError::Serialize`] when the value does not serialize;
    /// [`SyncError::NoRuntime`] outside a Tokio runtime.
    pub fn sync(&mut self) -> Result<(), SyncError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| SyncError::NoRuntime(self.cell.key.to_string()))?;
        self.stage()?;
        if !self.cell.scheduled.swap(true, Ordering::AcqRel) {
            let (cell, runtime, window) = (self.cell.clone(), self.runtime.clone(), self.window);
            handle.spawn(async move {
                tokio::time::sleep(window).await;
                if let Err(problem) = publish(&cell, runtime).await {
                    tracing::warn!(
                        key = &*cell.key,
                        code = problem.code(),
                        "synced state not published"
                    );
                }
            });
        }
        Ok(())
    }

    /// Publishes the value as it is now, without waiting for the window; what was synced
    /// and is still waiting goes with it. Resolves to the delivery's report, or `None`
    /// when nothing changed.
    ///
    /// # Errors
    ///
    /// [`SyncError::Serialize`] as a Problem (`event_serialization_failed`), or the
    /// delivery's Problem (a failing resolver); then the change stays pending.
    pub async fn flush(&mut self) -> Result<Option<DeliveryReport>, Problem> {
        self.stage().map_err(|error| {
            tracing::warn!(%error, "synced state not serialized");
            Problem::event_serialization_failed(<StatePatch as crate::Event>::NAME)
        })?;
        publish(&self.cell, self.runtime.clone()).await
    }

    /// The version clients have been sent last (1 before the first change).
    pub fn version(&self) -> u64 {
        self.cell.version.load(Ordering::Acquire)
    }

    /// The key clients know the state by.
    pub fn key(&self) -> &str {
        &self.cell.key
    }

    /// Serializes the value as the next one to publish.
    fn stage(&self) -> Result<(), SyncError> {
        let value = serde_json::to_value(&self.value).map_err(|source| SyncError::Serialize {
            key: self.cell.key.to_string(),
            source,
        })?;
        *self.cell.pending.lock().expect("synced state lock") = Some(value);
        Ok(())
    }
}

/// Sends what changed between the published state and the pending one, if anything.
async fn publish(
    cell: &StateCell,
    runtime: Arc<dyn Runtime>,
) -> Result<Option<DeliveryReport>, Problem> {
    let mut published = cell.published.lock().await;
    // Cleared before taking the value, so a `sync` after this point schedules again.
    cell.scheduled.store(false, Ordering::Release);
    let Some(next) = cell.pending.lock().expect("synced state lock").take() else {
        return Ok(None);
    };
    let ops = json_patch::diff(&published.value, &next);
    if ops.is_empty() {
        return Ok(None);
    }
    let version = published.version + 1;
    let text = to_raw(&next);
    let ops = to_raw(&ops);
    // A patch that outweighs half the state is worth less than the state itself.
    let emit = if ops.get().len() * 2 > text.get().len() {
        Emit::to(
            cell.to.clone(),
            &StateSnapshot {
                key: cell.key.to_string(),
                version,
                state: text.clone(),
            },
        )
    } else {
        Emit::to(
            cell.to.clone(),
            &StatePatch {
                key: cell.key.to_string(),
                base: published.version,
                version,
                ops,
            },
        )
    }?;
    match runtime.emit(emit, None, None).await {
        Ok(report) => {
            *published = Published {
                version,
                value: next,
                text,
            };
            cell.version.store(version, Ordering::Release);
            Ok(Some(report))
        }
        Err(problem) => {
            // Kept for the next publication, unless a newer value is already waiting.
            cell.pending
                .lock()
                .expect("synced state lock")
                .get_or_insert(next);
            Err(problem)
        }
    }
}

fn to_raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("a JSON value serializes")
}

impl<T> Deref for Synced<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Synced<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for Synced<T> {
    /// Frees the key; a publication already scheduled still goes out.
    fn drop(&mut self) {
        self.runtime.sync_store().remove(&self.cell.key);
    }
}

impl<T: fmt::Debug> fmt::Debug for Synced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Synced")
            .field("key", &self.cell.key)
            .field("to", &self.cell.to)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}
