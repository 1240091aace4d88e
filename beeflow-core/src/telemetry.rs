//! Metrics, through the `metrics` facade (cargo feature `metrics`): the application installs
//! a recorder (Prometheus, StatsD, ...) before it builds its dispatcher, and beeflow records
//! into it. Without the feature every call here is empty and compiles away.
//!
//! Labels are names (action, event, recipient type, close code), never ids: a label per
//! user or per connection would grow the recorder without bound. Handles are made once, at
//! start, for every registered action and event, so recording costs no lookup in the
//! recorder on the hot path.
//!
//! | metric | kind | labels |
//! | ------ | ---- | ------ |
//! | `beeflow_connections` | gauge | |
//! | `beeflow_connections_accepted_total` | counter | |
//! | `beeflow_upgrades_refused_total` | counter | `code` (the Problem's) |
//! | `beeflow_closes_total` | counter | `code` (`1001`, `1008`, ..., or `client`, `write_failed`, `write_stalled`, `shut_down`) |
//! | `beeflow_actions_total` | counter | `action` (`unknown`, `invalid` for frames that name none), `outcome` (`ok`, `problem`, `rate_limited`) |
//! | `beeflow_action_duration_seconds` | histogram | `action` |
//! | `beeflow_events_sent_total` | counter | `event` (one per connection it was queued for) |
//! | `beeflow_frames_dropped_total` | counter | |
//! | `beeflow_broker_publishes_total` | counter | `result` (`ok`, `lost`) |
//! | `beeflow_broker_expired_total` | counter | |

#[cfg(feature = "metrics")]
// Looked up once or twice per request by a registered name: a fast hash, not SipHash.
use foldhash::HashMap;
use std::time::Instant;

#[cfg(feature = "metrics")]
use metrics::{Counter, Gauge, Histogram};

/// The labels of `beeflow_closes_total`.
#[cfg(feature = "metrics")]
const CLOSES: &[&str] = &[
    "client",
    "1001",
    "1002",
    "1007",
    "1008",
    "1009",
    "1011",
    "other",
    "write_failed",
    "write_stalled",
    "shut_down",
];

/// The labels of `beeflow_upgrades_refused_total`: the codes of the problems an upgrade is
/// refused with, and `other` for the application's own.
#[cfg(feature = "metrics")]
const REFUSALS: &[&str] = &[
    "websocket_upgrade_required",
    "unauthenticated",
    "origin_not_allowed",
    "rate_limited",
    "too_many_connections",
    "server_full",
    "shutting_down",
    "handshake_timed_out",
    "headers_too_large",
    "other",
];

/// How an action ended, for `beeflow_actions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Problem,
    RateLimited,
}

/// The handles of one node.
#[derive(Default)]
pub(crate) struct Telemetry {
    #[cfg(feature = "metrics")]
    handles: Option<Handles>,
}

#[cfg(feature = "metrics")]
struct Handles {
    connections: Gauge,
    accepted: Counter,
    actions: HashMap<&'static str, ActionHandles>,
    unknown: ActionHandles,
    invalid: ActionHandles,
    events: HashMap<&'static str, Counter>,
    closes: HashMap<&'static str, Counter>,
    refusals: HashMap<&'static str, Counter>,
    dropped: Counter,
    published: Counter,
    lost: Counter,
}

#[cfg(feature = "metrics")]
struct ActionHandles {
    ok: Counter,
    problem: Counter,
    rate_limited: Counter,
    duration: Histogram,
}

#[cfg(feature = "metrics")]
impl ActionHandles {
    fn new(action: &'static str) -> Self {
        let outcome = |outcome: &'static str| metrics::counter!("beeflow_actions_total", "action" => action, "outcome" => outcome);
        Self {
            ok: outcome("ok"),
            problem: outcome("problem"),
            rate_limited: outcome("rate_limited"),
            duration: metrics::histogram!("beeflow_action_duration_seconds", "action" => action),
        }
    }
}

impl Telemetry {
    /// Handles for these actions and events, in the recorder installed now.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(
        actions: impl Iterator<Item = &'static str>,
        events: impl Iterator<Item = &'static str>,
    ) -> Self {
        #[cfg(feature = "metrics")]
        {
            let handles = Handles {
                connections: metrics::gauge!("beeflow_connections"),
                accepted: metrics::counter!("beeflow_connections_accepted_total"),
                actions: actions.map(|a| (a, ActionHandles::new(a))).collect(),
                unknown: ActionHandles::new("unknown"),
                invalid: ActionHandles::new("invalid"),
                events: events
                    .map(|e| {
                        (
                            e,
                            metrics::counter!("beeflow_events_sent_total", "event" => e),
                        )
                    })
                    .collect(),
                closes: CLOSES
                    .iter()
                    .map(|&code| {
                        (
                            code,
                            metrics::counter!("beeflow_closes_total", "code" => code),
                        )
                    })
                    .collect(),
                refusals: REFUSALS
                    .iter()
                    .map(|&code| {
                        let counter =
                            metrics::counter!("beeflow_upgrades_refused_total", "code" => code);
                        (code, counter)
                    })
                    .collect(),
                dropped: metrics::counter!("beeflow_frames_dropped_total"),
                published: metrics::counter!("beeflow_broker_publishes_total", "result" => "ok"),
                lost: metrics::counter!("beeflow_broker_publishes_total", "result" => "lost"),
            };
            Self {
                handles: Some(handles),
            }
        }
        #[cfg(not(feature = "metrics"))]
        Self::default()
    }

    /// When an action starts, if its duration is recorded.
    pub(crate) fn start(&self) -> Option<Instant> {
        #[cfg(feature = "metrics")]
        if self.handles.is_some() {
            return Some(Instant::now());
        }
        None
    }

    pub(crate) fn connection_opened(&self) {
        #[cfg(feature = "metrics")]
        if let Some(h) = &self.handles {
            h.connections.increment(1);
            h.accepted.increment(1);
        }
    }

    pub(crate) fn connection_closed(&self) {
        #[cfg(feature = "metrics")]
        if let Some(h) = &self.handles {
            h.connections.decrement(1);
        }
    }

    /// An upgrade refused with the Problem of this code (an application's own code, from
    /// its authenticator, is counted as `other`).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn upgrade_refused(&self, code: &str) {
        #[cfg(feature = "metrics")]
        if let Some(h) = &self.handles {
            let counter = h.refusals.get(code).or_else(|| h.refusals.get("other"));
            if let Some(counter) = counter {
                counter.increment(1);
            }
        }
    }

    /// A connection's loop ended; `code` is its close code, or how it ended without one
    /// (one of [`CLOSES`]).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn closed(&self, code: &'static str) {
        #[cfg(feature = "metrics")]
        if let Some(counter) = self.handles.as_ref().and_then(|h| h.closes.get(code)) {
            counter.increment(1);
        }
    }

    /// An action (by its registered name; `None`: a frame that names no registered action,
    /// `invalid` when it names none at all) ended.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn action(
        &self,
        action: Option<&'static str>,
        valid: bool,
        outcome: Outcome,
        started: Option<Instant>,
    ) {
        #[cfg(feature = "metrics")]
        if let Some(h) = &self.handles {
            let handles = match action {
                Some(name) => h.actions.get(name).unwrap_or(&h.unknown),
                None if valid => &h.unknown,
                None => &h.invalid,
            };
            match outcome {
                Outcome::Ok => handles.ok.increment(1),
                Outcome::Problem => handles.problem.increment(1),
                Outcome::RateLimited => handles.rate_limited.increment(1),
            }
            if let Some(started) = started {
                handles.duration.record(started.elapsed().as_secs_f64());
            }
        }
    }

    /// A delivery of `event` on this node: queued for `delivered` connections, dropped for
    /// `dropped` (their queue was full).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn delivered(&self, event: &'static str, delivered: usize, dropped: usize) {
        #[cfg(feature = "metrics")]
        if let Some(h) = &self.handles {
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            match h.events.get(event) {
                Some(counter) => counter.increment(count(delivered)),
                None => metrics::counter!("beeflow_events_sent_total", "event" => event)
                    .increment(count(delivered)),
            }
            if dropped > 0 {
                h.dropped.increment(count(dropped));
            }
        }
    }

    /// One publish to the broker, taken or lost.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn published(&self, taken: bool) {
        #[cfg(feature = "metrics")]
        if let Some(h) = &self.handles {
            if taken {
                h.published.increment(1);
            } else {
                h.lost.increment(1);
            }
        }
    }
}

/// A delivery from another node dropped for arriving after its publisher gave up on it.
#[cfg(feature = "redis")]
pub(crate) fn broker_expired() {
    #[cfg(feature = "metrics")]
    metrics::counter!("beeflow_broker_expired_total").increment(1);
}

/// `span`, or `Span::none()` when no subscriber wants it (info-level spans are off by
/// default). A disabled span is still offered to `log` each time it is entered and left,
/// which around every poll of a connection or a request costs for nothing.
pub(crate) fn wanted(span: tracing::Span) -> tracing::Span {
    if span.is_disabled() {
        tracing::Span::none()
    } else {
        span
    }
}
