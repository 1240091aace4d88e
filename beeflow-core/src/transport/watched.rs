//! The socket as the connection loop sees it: an `AsyncRead + AsyncWrite` that keeps count
//! of what it read and whether writing makes progress, so the loop can tell a message that
//! started arriving but never finishes, and a client that stopped reading.
//!
//! The WebSocket codec reads ahead into its own buffer and hands out whole messages, so the
//! byte counts are the only view the loop has of a frame in flight. What it knows of each
//! message it was handed ([`Progress::data_done`], [`Progress::control_done`]) is subtracted
//! from what was read; whatever remains has arrived but is not a message yet.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Milliseconds since the connection started; `0` in a slot means "not set", so times are
/// stored plus one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    pub(crate) fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Now, as stored in a slot (never 0).
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// The instant a stored time stands for.
    pub(crate) fn instant(&self, stored: u64) -> Instant {
        self.start + std::time::Duration::from_millis(stored.saturating_sub(1))
    }
}

/// What the loop and the socket wrapper share. One task uses it; the atomics only make it
/// `Send` and `Sync`.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Bytes read from the socket so far.
    read: AtomicU64,
    /// Bytes of the messages handed out so far (see the module docs).
    accounted: AtomicU64,
    /// When bytes that are not yet a message started waiting (0: none wait).
    pending_since: AtomicU64,
    /// When a write started to make no progress (0: writes progress).
    blocked_since: AtomicU64,
    /// When the last frame arrived from the client, or the loop last went back to reading.
    last_inbound: AtomicU64,
    /// Whether the loop waits on the socket now (not handling a request, not pacing).
    reading: AtomicBool,
    /// Wakes the watchdog when a write blocks, or the loop resumes reading with part of a
    /// message waiting.
    changed: Notify,
}

impl Progress {
    /// A message (text or binary) was handed out: everything read so far is accounted for.
    /// Its arrival time is not taken here: the loop stops reading to handle it, and stores
    /// the time when it resumes ([`Progress::resume_reading`]), which is all the keepalive
    /// looks at; one clock read per request instead of two.
    pub(crate) fn data_done(&self) {
        self.accounted
            .store(self.read.load(Ordering::Relaxed), Ordering::Relaxed);
        self.pending_since.store(0, Ordering::Relaxed);
    }

    /// A control frame with `payload` bytes was handed out. A client's control frame is
    /// exactly 6 bytes of header (with the mask) plus its payload of at most 125 bytes.
    pub(crate) fn control_done(&self, clock: &Clock, payload: usize) {
        let read = self.read.load(Ordering::Relaxed);
        let accounted = (self.accounted.load(Ordering::Relaxed) + 6 + payload as u64).min(read);
        self.accounted.store(accounted, Ordering::Relaxed);
        if accounted == read {
            self.pending_since.store(0, Ordering::Relaxed);
        }
        self.inbound(clock);
    }

    fn inbound(&self, clock: &Clock) {
        self.last_inbound.store(clock.now(), Ordering::Relaxed);
    }

    /// The loop goes back to waiting on the socket (after handling a request or pacing): the
    /// time it spent away counts neither against the keepalive nor against a message in
    /// flight.
    pub(crate) fn resume_reading(&self, clock: &Clock) {
        let now = clock.now();
        self.last_inbound.store(now, Ordering::Relaxed);
        self.reading.store(true, Ordering::Relaxed);
        if self.pending_since.load(Ordering::Relaxed) != 0 {
            self.pending_since.store(now, Ordering::Relaxed);
            // The watchdog may sleep past this message's deadline.
            self.changed.notify_one();
        }
    }

    /// The loop stops waiting on the socket.
    pub(crate) fn pause_reading(&self) {
        self.reading.store(false, Ordering::Relaxed);
    }

    pub(crate) fn reading(&self) -> bool {
        self.reading.load(Ordering::Relaxed)
    }

    pub(crate) fn pending_since(&self) -> Option<u64> {
        Some(self.pending_since.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    pub(crate) fn blocked_since(&self) -> Option<u64> {
        Some(self.blocked_since.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    pub(crate) fn last_inbound(&self) -> u64 {
        self.last_inbound.load(Ordering::Relaxed)
    }

    /// Resolves when a write blocks, or the loop resumes reading with part of a message
    /// waiting.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    fn read_bytes(&self, clock: &Clock, n: usize) {
        let read = self.read.load(Ordering::Relaxed);
        // The watchdog never sleeps longer than the message timeout, so it need not be
        // woken for a message that starts arriving (most requests would wake it).
        if read == self.accounted.load(Ordering::Relaxed) {
            self.pending_since.store(clock.now(), Ordering::Relaxed);
        }
        self.read.store(read + n as u64, Ordering::Relaxed);
    }

    fn write_blocked(&self, clock: &Clock) {
        if self.blocked_since.load(Ordering::Relaxed) == 0 {
            self.blocked_since.store(clock.now(), Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    fn write_progressed(&self) {
        self.blocked_since.store(0, Ordering::Relaxed);
    }
}

/// The socket, counting.
pub(crate) struct Watched<S> {
    io: S,
    progress: Arc<Progress>,
    clock: Clock,
}

impl<S> Watched<S> {
    pub(crate) fn new(io: S, progress: Arc<Progress>, clock: Clock) -> Self {
        Self {
            io,
            progress,
            clock,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.progress.read_bytes(&this.clock, n);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, data);
        match polled {
            Poll::Pending => this.progress.write_blocked(&this.clock),
            Poll::Ready(_) => this.progress.write_progressed(),
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        match polled {
            Poll::Pending => this.progress.write_blocked(&this.clock),
            Poll::Ready(_) => this.progress.write_progressed(),
        }
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_of_handed_out_messages_are_not_pending() {
        let clock = Clock::start();
        let progress = Progress::default();
        assert_eq!(progress.pending_since(), None);
        // A 20-byte data message arrives in two reads, then is handed out.
        progress.read_bytes(&clock, 12);
        assert!(progress.pending_since().is_some());
        progress.read_bytes(&clock, 8);
        progress.data_done();
        assert_eq!(progress.pending_since(), None);
        // A pong with 4 bytes of payload: 10 bytes on the wire.
        progress.read_bytes(&clock, 10);
        assert!(progress.pending_since().is_some());
        progress.control_done(&clock, 4);
        assert_eq!(progress.pending_since(), None);
        // Part of a data message, then a pong between its fragments: still pending.
        progress.read_bytes(&clock, 100);
        progress.read_bytes(&clock, 6);
        progress.control_done(&clock, 0);
        assert!(progress.pending_since().is_some());
    }
}
