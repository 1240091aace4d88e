//! The transport-agnostic per-connection driver: inbound frames in, outbound frames out.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use uuid::Uuid;

use crate::action::{ActionDef, EventsInner};
use crate::context::{ActionContext, ConnectionInfo};
use crate::dispatch::Shared;
use crate::envelope;
use crate::event::Emit;
use crate::outbound::{Mailbox, Outgoing};
use crate::problem::Problem;
use crate::recipient::ConnectionId;

/// One frame received from a client, borrowed from the adapter's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inbound<'a> {
    /// A text frame.
    Text(&'a str),
    /// A binary frame (never a valid action: it gets `invalid_websocket_message`).
    Binary(&'a [u8]),
    /// A ping; the session queues the pong.
    Ping(&'a [u8]),
}

/// The server side of one connection, independent of any web framework or socket type.
///
/// An adapter opens one per accepted socket with
/// [`Dispatcher::open_admitted`](crate::Dispatcher::open_admitted), feeds it every inbound
/// frame with
/// [`Session::handle`], and writes whatever the paired [`Outbound`](crate::Outbound) yields.
/// Requests are handled one at a time in arrival order; a handler's events reach the
/// outbound queue as it produces them. Dropping the session disconnects it from the hub.
pub struct Session {
    shared: Arc<Shared>,
    connection: Arc<ConnectionInfo>,
    mailbox: Arc<Mailbox>,
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        connection: Arc<ConnectionInfo>,
        mailbox: Arc<Mailbox>,
    ) -> Self {
        Self {
            shared,
            connection,
            mailbox,
        }
    }

    /// This connection's id.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.connection.id
    }

    /// Handles one inbound frame to completion: validation, the action handler, and the
    /// delivery of every event it produces. Failures become problems on the outbound queue;
    /// nothing here ends the session.
    pub async fn handle(&mut self, frame: Inbound<'_>) {
        match frame {
            Inbound::Text(text) => self.handle_text(text).await,
            Inbound::Binary(bytes) => {
                let invalid = envelope::parse_binary(bytes);
                self.send_problem(&Problem::invalid_message(), invalid.req_id);
            }
            Inbound::Ping(data) => {
                // A full queue already means the connection is being closed.
                let _ = self.mailbox.push(Outgoing::Pong(data.to_vec()));
            }
        }
    }

    async fn handle_text(&mut self, text: &str) {
        let envelope = match envelope::parse_action(text) {
            Ok(envelope) => envelope,
            Err(invalid) => {
                return self.send_problem(&Problem::invalid_message(), invalid.req_id);
            }
        };
        let req_id = envelope.req_id;
        let Some(def) = self.shared.registry.action(&envelope.action) else {
            return self.send_problem(&Problem::unknown_action(&envelope.action), Some(req_id));
        };
        if let Err(problem) = self.run(def, req_id, envelope.payload).await {
            self.send_problem(&problem, Some(req_id));
        }
    }

    /// Runs one action; the first problem (from decoding, the handler, or a delivery) ends
    /// the request. Panics anywhere in the handler become `action_panicked`.
    async fn run(&self, def: &ActionDef, req_id: Uuid, payload: &str) -> Result<(), Problem> {
        let cx = ActionContext {
            shared: self.shared.clone(),
            connection: self.connection.clone(),
            req_id,
        };
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| (def.handler)(cx, payload)))
            .map_err(|panic| panicked(def, &*panic))??;
        let events = AssertUnwindSafe(started)
            .catch_unwind()
            .await
            .map_err(|panic| panicked(def, &*panic))??;
        match events.0 {
            EventsInner::None => Ok(()),
            EventsInner::One(emit) => self.deliver(emit, req_id).await,
            EventsInner::Many(emits) => {
                for emit in emits {
                    self.deliver(emit, req_id).await?;
                }
                Ok(())
            }
            EventsInner::Stream(mut stream) => loop {
                let next = AssertUnwindSafe(stream.next())
                    .catch_unwind()
                    .await
                    .map_err(|panic| panicked(def, &*panic))?;
                match next {
                    Some(emit) => self.deliver(emit?, req_id).await?,
                    None => return Ok(()),
                }
            },
        }
    }

    async fn deliver(&self, emit: Emit, req_id: Uuid) -> Result<(), Problem> {
        self.shared
            .deliver(emit, Some(req_id), Some(&self.connection.id))
            .await
            .map(drop)
    }

    fn send_problem(&self, problem: &Problem, req_id: Option<Uuid>) {
        let text = problem.to_json(&self.shared.problem_base, req_id, &self.connection.path);
        // A full queue already means the connection is being closed for not reading.
        let _ = self.mailbox.push(Outgoing::Text(text));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.disconnect(&self.connection.id);
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("connection_id", &self.connection.id)
            .field("path", &self.connection.path)
            .finish_non_exhaustive()
    }
}

fn panicked(def: &ActionDef, panic: &(dyn Any + Send)) -> Problem {
    tracing::error!(
        action = def.name,
        panic = panic_message(panic),
        "action handler panicked"
    );
    Problem::handler_panicked()
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}
