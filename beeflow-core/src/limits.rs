//! Limits with documented defaults: nothing a client sends, fails to send or fails to read
//! holds memory or a task without bound.

use std::time::Duration;

/// Per-connection limits, in size and in time. Set them with the `with_*` methods; the
/// dispatcher checks them once, when it is built
/// ([`DispatcherBuilder::build`](crate::DispatcherBuilder::build)).
///
/// ```
/// use beeflow_core::{Limits, SlowConsumer};
///
/// let limits = Limits::default()
///     .with_outbound_queue(256)
///     .with_slow_consumer(SlowConsumer::DropDroppable);
/// assert_eq!(limits.outbound_queue(), 256);
/// assert_eq!(limits.max_message_size(), 2 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    outbound_queue: usize,
    outbound_queue_bytes: usize,
    slow_consumer: SlowConsumer,
    max_message_size: usize,
    max_frame_size: usize,
    read_buffer_size: usize,
    write_buffer_size: usize,
    handshake_timeout: Duration,
    message_timeout: Duration,
    write_timeout: Duration,
    keepalive_interval: Duration,
    keepalive_timeout: Duration,
    max_connections: Option<usize>,
    max_connections_per_user: Option<usize>,
    max_header_bytes: usize,
    max_concurrent_actions: usize,
    max_subscriptions: usize,
    history: HistoryLimits,
    max_recovery: usize,
}

/// How much of each stream's history is kept (`docs/protocol.md` §6.4): at most `size`
/// events, none older than `age`. A stream with no event younger than `age` is forgotten
/// altogether; its next event starts a new epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryLimits {
    /// The most events kept per stream.
    pub size: usize,
    /// How long an event is kept.
    pub age: Duration,
}

/// What a connection's queue does when its client reads too slowly to keep it within the
/// [`Limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowConsumer {
    /// Close the connection with 1008 (the default): the client learns it lost events.
    #[default]
    Close,
    /// Drop events marked droppable (`#[event(droppable)]`) while the queue is full, and
    /// close only when an event that is not droppable does not fit.
    DropDroppable,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            outbound_queue: 1024,
            outbound_queue_bytes: 1 << 20,
            slow_consumer: SlowConsumer::Close,
            max_message_size: 2 << 20,
            max_frame_size: 2 << 20,
            read_buffer_size: 4 << 10,
            write_buffer_size: 4 << 10,
            handshake_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(15),
            write_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(25),
            keepalive_timeout: Duration::from_secs(10),
            max_connections: None,
            max_connections_per_user: Some(64),
            max_header_bytes: 32 << 10,
            max_concurrent_actions: 16,
            max_subscriptions: 128,
            history: HistoryLimits {
                size: 100,
                age: Duration::from_secs(300),
            },
            max_recovery: 300,
        }
    }
}

impl Limits {
    /// Frames (events and problems) queued for one connection before the server gives up on
    /// it ([`Limits::slow_consumer`]). Default: 1024.
    pub fn outbound_queue(&self) -> usize {
        self.outbound_queue
    }

    /// Sets [`Limits::outbound_queue`]; at least 1.
    #[must_use]
    pub fn with_outbound_queue(mut self, frames: usize) -> Self {
        self.outbound_queue = frames;
        self
    }

    /// Bytes of frames queued for one connection before the same happens. A single frame
    /// larger than this still goes through an empty queue. Default: 1 MiB.
    pub fn outbound_queue_bytes(&self) -> usize {
        self.outbound_queue_bytes
    }

    /// Sets [`Limits::outbound_queue_bytes`]; at least 1.
    #[must_use]
    pub fn with_outbound_queue_bytes(mut self, bytes: usize) -> Self {
        self.outbound_queue_bytes = bytes;
        self
    }

    /// What happens when a client reads too slowly to stay within the two bounds above.
    /// Default: [`SlowConsumer::Close`].
    pub fn slow_consumer(&self) -> SlowConsumer {
        self.slow_consumer
    }

    /// Sets [`Limits::slow_consumer`].
    #[must_use]
    pub fn with_slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.slow_consumer = policy;
        self
    }

    /// The largest message a client may send, in bytes, however it is fragmented; a bigger
    /// one closes the connection with 1009. Default: 2 MiB.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Sets [`Limits::max_message_size`]; at least 1.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The largest single frame, in bytes; a frame is also bounded by
    /// [`Limits::max_message_size`]. Default: 2 MiB.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Sets [`Limits::max_frame_size`]; at least 1.
    #[must_use]
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The socket read buffer per connection, in bytes. Default: 4 KiB. Measured with axum
    /// 0.8, the transport's 128 KiB default costs ~134 KiB per idle connection, 4 KiB ~6 KiB,
    /// and was no slower.
    pub fn read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }

    /// Sets [`Limits::read_buffer_size`]; at least 1.
    #[must_use]
    pub fn with_read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// Bytes buffered before a write is flushed to the socket. Default: 4 KiB.
    pub fn write_buffer_size(&self) -> usize {
        self.write_buffer_size
    }

    /// Sets [`Limits::write_buffer_size`]; at least 1.
    #[must_use]
    pub fn with_write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// How long a client has, from its TCP connection, to send the whole upgrade request and
    /// be admitted; a slower one gets 408 (or its connection is dropped while the request
    /// head is still incomplete). Default: 10 s.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Sets [`Limits::handshake_timeout`]; more than zero.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a message may take to arrive once its first byte has: a frame or a
    /// fragmented message still incomplete after this closes the connection with 1008, so
    /// a client cannot pin a large buffer by sending slowly. Default: 15 s.
    pub fn message_timeout(&self) -> Duration {
        self.message_timeout
    }

    /// Sets [`Limits::message_timeout`]; more than zero.
    #[must_use]
    pub fn with_message_timeout(mut self, timeout: Duration) -> Self {
        self.message_timeout = timeout;
        self
    }

    /// How long a write to the socket may make no progress before the connection is
    /// dropped (the client stopped reading, or its network is gone). Default: 10 s.
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// Sets [`Limits::write_timeout`]; more than zero.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// After this long without a frame from the client, the server sends a ping. Default:
    /// 25 s.
    pub fn keepalive_interval(&self) -> Duration {
        self.keepalive_interval
    }

    /// Sets [`Limits::keepalive_interval`]; more than zero.
    #[must_use]
    pub fn with_keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = interval;
        self
    }

    /// How long the client has, after a keepalive ping, to send any frame (the pong, which
    /// browsers send by themselves, or anything else) before the connection is closed with
    /// 1011. Default: 10 s.
    pub fn keepalive_timeout(&self) -> Duration {
        self.keepalive_timeout
    }

    /// Sets [`Limits::keepalive_timeout`]; more than zero.
    #[must_use]
    pub fn with_keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = timeout;
        self
    }

    /// How many connections this node takes (`None`: no limit); an upgrade beyond it is
    /// refused with a `server_full` Problem (503). Default: no limit.
    pub fn max_connections(&self) -> Option<usize> {
        self.max_connections
    }

    /// Sets [`Limits::max_connections`]; at least 1 when set.
    #[must_use]
    pub fn with_max_connections(mut self, connections: impl Into<Option<usize>>) -> Self {
        self.max_connections = connections.into();
        self
    }

    /// How many connections one user may hold on this node (`None`: no limit); an upgrade
    /// beyond it is refused with a `too_many_connections` Problem (429). Guests are not
    /// counted. Default: 64.
    pub fn max_connections_per_user(&self) -> Option<usize> {
        self.max_connections_per_user
    }

    /// Sets [`Limits::max_connections_per_user`]; at least 1 when set.
    #[must_use]
    pub fn with_max_connections_per_user(mut self, connections: impl Into<Option<usize>>) -> Self {
        self.max_connections_per_user = connections.into();
        self
    }

    /// The most bytes of headers (names and values) an upgrade request may carry; a larger
    /// one is refused with `headers_too_large` (431). Default: 32 KiB. A request larger than
    /// what the HTTP server itself reads (`beeflow_axum::serve`: 1 MiB; actix-web: 128 KiB)
    /// is refused by it, with an empty 431.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// Sets [`Limits::max_header_bytes`]; at least 1.
    #[must_use]
    pub fn with_max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// How many requests of `#[action(concurrent)]` actions one connection may have running
    /// at once. At the limit the server reads nothing more from the connection until one
    /// finishes (TCP holds the client back). Default: 16.
    pub fn max_concurrent_actions(&self) -> usize {
        self.max_concurrent_actions
    }

    /// Sets [`Limits::max_concurrent_actions`]; at least 1.
    #[must_use]
    pub fn with_max_concurrent_actions(mut self, actions: usize) -> Self {
        self.max_concurrent_actions = actions;
        self
    }

    /// How many topics one version-2 connection may be subscribed to at once
    /// (`docs/protocol.md` §6.3); one more is refused with `too_many_subscriptions`.
    /// Default: 128.
    pub fn max_subscriptions(&self) -> usize {
        self.max_subscriptions
    }

    /// Sets [`Limits::max_subscriptions`]; at least 1.
    #[must_use]
    pub fn with_max_subscriptions(mut self, topics: usize) -> Self {
        self.max_subscriptions = topics;
        self
    }

    /// How much history each user and group stream keeps, for clients to recover what
    /// they missed: by default the last 100 events, at most 5 minutes old. A kept event
    /// costs about its text plus 300 bytes in memory (`MemoryBroker`): a stream with a full
    /// default history of 64-character messages holds about 48 KB, until it has been idle
    /// for the age (`docs/benchmarks.md`).
    pub fn history(&self) -> HistoryLimits {
        self.history
    }

    /// Keeps at most `size` events per stream (0: none, so nothing can be recovered), none
    /// older than `age` (at least 1 s).
    #[must_use]
    pub fn with_history(mut self, size: usize, age: Duration) -> Self {
        self.history = HistoryLimits { size, age };
        self
    }

    /// The most events one recovery replays (`beeflow.subscribe` with `since`,
    /// `beeflow.recover`); a client that missed more gets `"recovered": false` and must
    /// reload. Default: 300.
    pub fn max_recovery(&self) -> usize {
        self.max_recovery
    }

    /// Sets [`Limits::max_recovery`]; at least 1.
    #[must_use]
    pub fn with_max_recovery(mut self, events: usize) -> Self {
        self.max_recovery = events;
        self
    }

    /// Checks every limit; the first one out of range is returned by name.
    pub(crate) fn validate(&self) -> Result<(), InvalidLimit> {
        let sizes = [
            ("max_connections", self.max_connections.unwrap_or(1)),
            (
                "max_connections_per_user",
                self.max_connections_per_user.unwrap_or(1),
            ),
            ("max_header_bytes", self.max_header_bytes),
            ("max_concurrent_actions", self.max_concurrent_actions),
            ("max_subscriptions", self.max_subscriptions),
            ("max_recovery", self.max_recovery),
            ("outbound_queue", self.outbound_queue),
            ("outbound_queue_bytes", self.outbound_queue_bytes),
            ("max_message_size", self.max_message_size),
            ("max_frame_size", self.max_frame_size),
            ("read_buffer_size", self.read_buffer_size),
            ("write_buffer_size", self.write_buffer_size),
        ];
        if let Some((limit, _)) = sizes.into_iter().find(|&(_, value)| value == 0) {
            return Err(InvalidLimit {
                limit,
                reason: "must be at least 1",
            });
        }
        let times = [
            ("handshake_timeout", self.handshake_timeout),
            ("message_timeout", self.message_timeout),
            ("write_timeout", self.write_timeout),
            ("keepalive_interval", self.keepalive_interval),
            ("keepalive_timeout", self.keepalive_timeout),
        ];
        if self.history.age < Duration::from_secs(1) {
            return Err(InvalidLimit {
                limit: "history",
                reason: "keeps events at least 1 s",
            });
        }
        match times.into_iter().find(|&(_, value)| value.is_zero()) {
            Some((limit, _)) => Err(InvalidLimit {
                limit,
                reason: "must be more than zero",
            }),
            None => Ok(()),
        }
    }
}

/// A limit out of its range, found by [`Limits::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidLimit {
    pub(crate) limit: &'static str,
    pub(crate) reason: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_sizes_are_named() {
        assert_eq!(Limits::default().validate(), Ok(()));
        let invalid = Limits::default().with_outbound_queue(0).validate();
        assert_eq!(invalid.map_err(|e| e.limit), Err("outbound_queue"));
        let invalid = Limits::default().with_max_frame_size(0).validate();
        assert_eq!(invalid.map_err(|e| e.limit), Err("max_frame_size"));
    }

    #[test]
    fn each_setter_sets_one_limit() {
        let limits = Limits::default().with_max_message_size(10);
        assert_eq!(limits.max_message_size(), 10);
        assert_eq!(limits.max_frame_size(), Limits::default().max_frame_size());
    }
}
