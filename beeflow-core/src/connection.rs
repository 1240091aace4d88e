//! The transport-agnostic per-connection driver: inbound frames in, outbound frames out.

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::{FutureExt, StreamExt};
use tracing::Instrument;
use uuid::Uuid;

use crate::action::{EventsInner, Handler};
use crate::context::{ActionContext, Completion, ConnectionInfo};
use crate::envelope::{self, Encoding};
use crate::event::Emit;
use crate::node::Node;
use crate::outbound::{CloseReason, Mailbox, OutboundQueue, Queued};
use crate::problem::{Problem, panic_message};
use crate::rate::{ConnectionRates, Limited};
use crate::recipient::ConnectionId;
use crate::registry::RESERVED_PREFIX;
use crate::telemetry::{self, Outcome};

/// One frame received from a client, borrowed from the transport's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound<'a> {
    /// A text frame. The connection loop prepares text frames itself (to run concurrent
    /// actions beside later requests); the test client hands them over whole.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    Text(&'a str),
    /// A binary frame (never a valid action: it gets `invalid_websocket_message`).
    Binary(&'a [u8]),
}

/// The server side of one connection, independent of any web framework or socket type.
///
/// A transport opens one per accepted socket with
/// [`Dispatcher::open`](crate::Dispatcher::open) and runs it with
/// [`serve`](crate::transport::serve), which feeds it every frame the client sends and writes
/// every frame queued for the client. Requests are handled one at a time in arrival order; a
/// handler's events reach the outbound queue as it produces them. Dropping the connection
/// removes it from the hub.
pub struct Connection {
    pub(crate) requests: Requests,
    pub(crate) queue: OutboundQueue,
}

impl Connection {
    pub(crate) fn new(
        node: Arc<Node>,
        info: Arc<ConnectionInfo>,
        mailbox: Arc<Mailbox>,
        queue: OutboundQueue,
    ) -> Self {
        let rates = ConnectionRates::new(node.rates.config());
        Self {
            requests: Requests {
                runner: Runner {
                    node,
                    info,
                    mailbox,
                },
                rates,
                encoding: Encoding::Json,
            },
            queue,
        }
    }

    /// Reads and writes frames as `encoding` (set once, as the connection opens).
    pub(crate) fn set_encoding(&mut self, encoding: Encoding) {
        self.requests.encoding = encoding;
        self.queue.set_encoding(encoding);
    }

    /// This connection's id.
    pub fn id(&self) -> &ConnectionId {
        &self.requests.runner.info.id
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.requests.runner.info.id)
            .field("path", &self.requests.runner.info.path)
            .finish_non_exhaustive()
    }
}

/// The request side of a connection: what handles inbound frames while the outbound queue is
/// drained beside it.
pub(crate) struct Requests {
    runner: Runner,
    rates: ConnectionRates,
    /// How the client's frames are encoded.
    encoding: Encoding,
}

/// What running a request needs: cheap to clone into the future of a concurrent request,
/// which runs beside the connection's later requests.
#[derive(Clone)]
pub(crate) struct Runner {
    node: Arc<Node>,
    info: Arc<ConnectionInfo>,
    mailbox: Arc<Mailbox>,
}

/// What running a request needs of its action's registration: not the whole `ActionDef`,
/// which every request's future (allocated per request) would carry.
#[derive(Clone, Copy)]
struct Called {
    name: &'static str,
    handler: Handler,
}

/// A request that passed the envelope, rate and action checks, ready to run.
pub(crate) struct Prepared {
    action: Called,
    concurrent: bool,
    req_id: Uuid,
    /// Where the payload is in the frame's text.
    payload: Range<usize>,
    started: Option<Instant>,
}

impl Prepared {
    /// Whether it may run beside the connection's other requests (`#[action(concurrent)]`).
    pub(crate) fn concurrent(&self) -> bool {
        self.concurrent
    }
}

impl Requests {
    /// Handles one inbound frame to completion: validation, the action handler, and the
    /// delivery of every event it produces. Failures become problems on the outbound queue;
    /// nothing here ends the connection. Concurrent actions run to completion here too: the
    /// connection loop runs them beside later requests with [`Requests::prepare`] instead.
    pub(crate) async fn handle(&mut self, frame: Inbound<'_>) {
        match frame {
            Inbound::Text(text) => {
                if let Some(prepared) = self.prepare(text) {
                    self.runner.run(prepared, text).await;
                }
            }
            Inbound::Binary(bytes) => {
                if let Some(text) = self.binary_as_text(bytes) {
                    if let Some(prepared) = self.prepare(&text) {
                        self.runner.run(prepared, &text).await;
                    }
                    return;
                }
                let invalid = envelope::parse_binary(bytes);
                if self.within_rate("", invalid.req_id) {
                    self.runner
                        .send_problem(&Problem::invalid_websocket_message(), invalid.req_id);
                }
            }
        }
    }

    /// The JSON text a binary frame stands for: on a MessagePack connection, the frame
    /// transcoded (`None` when it is not MessagePack); on any other, `None`.
    pub(crate) fn binary_as_text(&self, bytes: &[u8]) -> Option<String> {
        match self.encoding {
            Encoding::Json => {
                let _ = bytes;
                None
            }
            #[cfg(feature = "msgpack")]
            Encoding::MessagePack => envelope::msgpack::to_json(bytes).ok(),
        }
    }

    /// Checks a text frame (the envelope, the rate limits, the action's name); a frame that
    /// fails gets its problem now, and `None`.
    pub(crate) fn prepare(&mut self, text: &str) -> Option<Prepared> {
        let parsed = envelope::parse_action(text);
        // Every frame counts against the rate limits, valid or not; a valid one against its
        // action's own bucket when it has one.
        let (action, req_id) = match &parsed {
            Ok(envelope) => (&*envelope.action, Some(envelope.req_id)),
            Err(invalid) => ("", invalid.req_id),
        };
        if !self.within_rate(action, req_id) {
            let node = &self.runner.node;
            let name = node.registry.action(action).map(|def| def.name);
            node.telemetry
                .action(name, parsed.is_ok(), Outcome::RateLimited, None);
            return None;
        }
        let node = &self.runner.node;
        let envelope = match parsed {
            Ok(envelope) => envelope,
            Err(invalid) => {
                node.telemetry.action(None, false, Outcome::Problem, None);
                let problem = Problem::invalid_websocket_message();
                self.runner.send_problem(&problem, invalid.req_id);
                return None;
            }
        };
        let req_id = envelope.req_id;
        // The `beeflow.` built-ins are version 2's: a version-1 client (like one of the
        // Python reference) gets what it would get there, an unknown action.
        let def = node
            .registry
            .action(&envelope.action)
            .filter(|def| self.runner.info.version == 2 || !def.name.starts_with(RESERVED_PREFIX));
        let Some(def) = def else {
            node.telemetry.action(None, true, Outcome::Problem, None);
            let problem = Problem::unknown_websocket_action(&envelope.action);
            self.runner.send_problem(&problem, Some(req_id));
            return None;
        };
        // The payload is a slice of `text`: where it starts, from the addresses.
        let start = envelope.payload.as_ptr() as usize - text.as_ptr() as usize;
        Some(Prepared {
            action: Called {
                name: def.name,
                handler: def.handler,
            },
            concurrent: def.concurrent,
            req_id,
            payload: start..start + envelope.payload.len(),
            started: node.telemetry.start(),
        })
    }

    /// What runs this connection's requests.
    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Takes one `action` from this connection's bucket and from its user's.
    fn take_rate(&mut self, action: &str) -> Result<(), Limited> {
        let node = &self.runner.node;
        let config = node.rates.config();
        self.rates.action(config, action)?;
        match &self.runner.info.identity {
            Some(identity) => node.rates.user_action(&identity.user_id),
            None => Ok(()),
        }
    }

    /// The user id of the connection's identity; `None` for a guest.
    pub(crate) fn user_id(&self) -> Option<&str> {
        self.runner.info.user_id()
    }

    /// The sending side of this connection's outbound queue.
    pub(crate) fn mailbox(&self) -> &Arc<Mailbox> {
        &self.runner.mailbox
    }

    /// The node this connection belongs to.
    pub(crate) fn node(&self) -> Arc<Node> {
        self.runner.node.clone()
    }

    /// Takes one frame from the rate limits; when over them, answers `rate_limited` (and
    /// after too many refusals, closes the connection) and returns false.
    fn within_rate(&mut self, action: &str, req_id: Option<Uuid>) -> bool {
        let Err(Limited(wait)) = self.take_rate(action) else {
            return true;
        };
        self.runner
            .send_problem(&Problem::rate_limited(wait), req_id);
        if self.rates.refused() {
            self.runner.mailbox.finish(CloseReason::RATE_LIMITED);
        }
        false
    }
}

impl Runner {
    /// Runs a prepared request of the frame `text` to completion, its problem (if any)
    /// queued for the client.
    pub(crate) async fn run(&self, prepared: Prepared, text: &str) {
        let Prepared {
            action,
            req_id,
            payload,
            started,
            concurrent: _,
        } = prepared;
        let span = tracing::info_span!(
            "action",
            name = action.name,
            %req_id,
            user = self.info.user_id(),
        );
        let outcome = self
            .run_action(action, req_id, &text[payload])
            .instrument(telemetry::wanted(span))
            .await;
        let recorded = if outcome.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Problem
        };
        self.node
            .telemetry
            .action(Some(action.name), true, recorded, started);
        match outcome {
            // Version 2 ends every request with one terminal frame: a Problem, or this.
            // Everything the request produced for this connection is queued before it.
            Ok((events, recovered)) if self.info.version == 2 => {
                let done = envelope::completion(req_id, events, recovered);
                // A full queue already means the connection is being closed.
                let _ = self.mailbox.push(Queued::Text(done));
            }
            Ok(_) => {}
            Err(problem) => self.send_problem(&problem, Some(req_id)),
        }
    }

    /// Runs one action; the first problem (from decoding, the handler, or a delivery) ends
    /// the request. Panics anywhere in the handler become `action_panicked`.
    async fn run_action(
        &self,
        action: Called,
        req_id: Uuid,
        payload: &str,
    ) -> Result<(usize, Option<bool>), Problem> {
        // Version 2 reports how many events the request emitted (`docs/protocol.md` §6.2):
        // those it returned, counted here, and those it sent with `cx.emit`, counted there;
        // and for a recovery, whether it recovered.
        let completion = (self.info.version == 2).then(|| Arc::new(Completion::default()));
        let cx = ActionContext {
            runtime: self.node.clone(),
            connection: self.info.clone(),
            req_id,
            completion: completion.clone(),
        };
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| (action.handler)(cx, payload)))
            .map_err(|panic| panicked(action.name, &*panic))??;
        // After decoding (whose type errors name the exact field) and before the handler's
        // body runs: the rules only the schema states.
        self.node.validators.check(action.name, payload)?;
        let events = AssertUnwindSafe(started)
            .catch_unwind()
            .await
            .map_err(|panic| panicked(action.name, &*panic))??;
        let returned = match events.0 {
            EventsInner::None => 0,
            EventsInner::One(emit) => {
                self.deliver(emit, req_id).await?;
                1
            }
            // Boxed: their loops would make every request's future (allocated per request)
            // several times larger.
            several => Box::pin(self.deliver_several(action.name, several, req_id)).await?,
        };
        let emitted = completion
            .as_ref()
            .map_or(0, |c| c.emitted.load(Ordering::Relaxed));
        let recovered = completion.and_then(|c| c.recovered());
        Ok((returned + emitted, recovered))
    }

    /// Delivers the events of a handler that returned several (a `Vec` or a stream), each
    /// paced by the requester's queue; returns how many.
    async fn deliver_several(
        &self,
        action: &'static str,
        events: EventsInner,
        req_id: Uuid,
    ) -> Result<usize, Problem> {
        match events {
            EventsInner::None => Ok(0),
            EventsInner::One(emit) => self.deliver(emit, req_id).await.map(|()| 1),
            EventsInner::Many(emits) => {
                let count = emits.len();
                for emit in emits {
                    self.paced(&emit).await;
                    self.deliver(emit, req_id).await?;
                }
                Ok(count)
            }
            EventsInner::Stream(mut stream) => {
                let mut count = 0;
                loop {
                    let next = AssertUnwindSafe(stream.next())
                        .catch_unwind()
                        .await
                        .map_err(|panic| panicked(action, &*panic))?;
                    let Some(emit) = next else {
                        break Ok(count);
                    };
                    let emit = emit?;
                    self.paced(&emit).await;
                    self.deliver(emit, req_id).await?;
                    count += 1;
                }
            }
        }
    }

    /// Before a handler's next event to its own requester, waits until the requester's
    /// queue has room: a handler streaming to a client that reads is paced by that client,
    /// never disconnected for it.
    async fn paced(&self, emit: &Emit) {
        let to_requester = match emit.recipients() {
            None => true,
            Some(recipients) => recipients.iter().any(|recipient| {
                recipient.kind() == crate::recipient::WEBSOCKET
                    && recipient.id() == self.info.id.as_str()
            }),
        };
        if to_requester {
            // A queue that takes no more frames refuses the event on its own.
            let _ = self.mailbox.room().await;
        }
    }

    async fn deliver(&self, emit: Emit, req_id: Uuid) -> Result<(), Problem> {
        if emit.recipients().is_none() {
            self.node.reply(&emit, req_id, &self.info.id, &self.mailbox);
            return Ok(());
        }
        // Boxed: resolving recipients and publishing to a broker make a large future, which
        // would otherwise make every request's future (allocated per request) that large.
        Box::pin(self.node.deliver(emit, Some(req_id), Some(&self.info.id)))
            .await
            .map(drop)
    }

    fn send_problem(&self, problem: &Problem, req_id: Option<Uuid>) {
        let text = problem.to_json(&self.node.problem_base, req_id, &self.info.path);
        // A full queue already means the connection is being closed for not reading.
        let _ = self.mailbox.push(Queued::Text(text));
    }
}

impl Drop for Requests {
    fn drop(&mut self) {
        self.runner.node.disconnected(&self.runner.info);
    }
}

fn panicked(action: &'static str, panic: &(dyn Any + Send)) -> Problem {
    tracing::error!(
        action,
        panic = panic_message(panic),
        "action handler panicked"
    );
    Problem::action_panicked()
}
