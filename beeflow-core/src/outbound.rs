//! One connection's bounded outbound queue: the hub and the session push, the adapter's
//! writer drains it through [`Outbound`].
//!
//! A `Mutex<VecDeque>` plus a `Notify` rather than a channel: an idle connection's empty
//! queue allocates nothing (a bounded channel allocates its first block up front, ~1 KiB
//! per connection), and the queue can be bounded by more than a count.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::hub::EventFrame;

pub(crate) enum Outgoing {
    Event(Arc<EventFrame>),
    Text(String),
    Pong(Vec<u8>),
}

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReason {
    /// The WebSocket close code.
    pub code: u16,
    /// The close reason text.
    pub reason: &'static str,
}

impl CloseReason {
    /// 1008: the client did not read its events fast enough and its queue overflowed.
    pub const SLOW_CONSUMER: Self = Self {
        code: 1008,
        reason: "outbound queue full: client is not reading",
    };

    /// 1009: a message exceeded the configured maximum size.
    pub const TOO_BIG: Self = Self {
        code: 1009,
        reason: "message too big",
    };

    /// 1007: a text frame held invalid UTF-8.
    pub const INVALID_UTF8: Self = Self {
        code: 1007,
        reason: "invalid UTF-8 in text frame",
    };
}

/// A frame to write to the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutFrame {
    /// A text frame (an event or a problem).
    Text(String),
    /// A pong answering a ping.
    Pong(Vec<u8>),
    /// Close the connection with this code and reason, then stop.
    Close(CloseReason),
}

impl Outgoing {
    /// What the frame holds in memory while queued, for the byte bound.
    fn weight(&self) -> usize {
        match self {
            Outgoing::Event(event) => event.len(),
            Outgoing::Text(text) => text.len(),
            Outgoing::Pong(data) => data.len(),
        }
    }

    fn droppable(&self) -> bool {
        matches!(self, Outgoing::Event(event) if event.droppable())
    }
}

/// What a connection's queue does when its client reads too slowly to keep it within
/// [`Limits`](crate::Limits).
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

/// The bounds and policy of one queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) frames: usize,
    pub(crate) bytes: usize,
    pub(crate) policy: SlowConsumer,
}

/// A FIFO whose first frame is stored inline: most queues hold zero or one frame, and a
/// fan-out to thousands of connections then touches no separate buffer per connection.
#[derive(Default)]
struct Frames {
    first: Option<Outgoing>,
    rest: VecDeque<Outgoing>,
}

impl Frames {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    fn push_back(&mut self, frame: Outgoing) {
        if self.is_empty() {
            self.first = Some(frame);
        } else {
            self.rest.push_back(frame);
        }
    }

    fn pop_front(&mut self) -> Option<Outgoing> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

#[derive(Default)]
struct Queue {
    frames: Frames,
    bytes: usize,
    /// The client fell too far behind: nothing more is queued, the writer closes.
    overflowed: bool,
    /// The session is gone: the writer drains what is queued, then ends.
    closed: bool,
    /// The writer found the queue empty and waits to be woken (see [`Outbound::recv`]).
    writer_waits: bool,
}

/// The sending side, shared by the hub (deliveries) and the session (problems, pongs).
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Wakes a writer stuck on a socket that stopped accepting data.
    overflow: Notify,
    bounds: Bounds,
}

pub(crate) enum Push {
    Queued,
    Full,
    Closed,
}

impl Mailbox {
    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            queue: Mutex::default(),
            ready: Notify::new(),
            overflow: Notify::new(),
            bounds,
        }
    }

    /// Queues a frame unless the queue is closed or full; a full queue gives up on the
    /// connection, or drops the frame when the policy allows it.
    pub(crate) fn push(&self, frame: Outgoing) -> Push {
        let weight = frame.weight();
        let mut queue = self.lock();
        if queue.closed {
            return Push::Closed;
        }
        if queue.overflowed {
            return Push::Full;
        }
        // A frame bigger than the byte bound still goes through an empty queue, or it
        // could never be sent at all.
        let fits = queue.frames.len() < self.bounds.frames
            && (queue.frames.is_empty() || queue.bytes + weight <= self.bounds.bytes);
        if fits {
            queue.bytes += weight;
            queue.frames.push_back(frame);
            // Only a writer that found the queue empty waits; a busy one drains this frame
            // before it looks again, so waking it would be wasted work.
            let wake = std::mem::take(&mut queue.writer_waits);
            drop(queue);
            if wake {
                self.ready.notify_one();
            }
            return Push::Queued;
        }
        if self.bounds.policy == SlowConsumer::DropDroppable && frame.droppable() {
            return Push::Full;
        }
        queue.overflowed = true;
        // What is queued will never be written: free it now.
        queue.frames = Frames::default();
        queue.bytes = 0;
        drop(queue);
        self.ready.notify_one();
        self.overflow.notify_waiters();
        Push::Full
    }

    /// Resolves once the queue has overflowed.
    pub(crate) async fn overflowed(&self) {
        loop {
            let notified = self.overflow.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so an overflow in between is not missed.
            notified.as_mut().enable();
            if self.lock().overflowed {
                return;
            }
            notified.await;
        }
    }

    /// Marks the session gone; the writer ends once the queue is drained.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section is a single push, pop or flag change, so a panic elsewhere
        // cannot leave the queue inconsistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The receiving end of one connection's outbound queue: the adapter's writer drains it.
///
/// Events get their per-connection `seq` here, as they leave the queue, so `seq` is
/// gap-free whichever path (reply, push, other node) queued them.
pub struct Outbound {
    mailbox: Arc<Mailbox>,
    seq: u64,
    /// Set once the close frame was handed out: nothing follows it.
    done: bool,
}

enum Next {
    Frame(OutFrame),
    End,
    Empty,
}

impl Outbound {
    pub(crate) fn new(mailbox: Arc<Mailbox>) -> Self {
        Self {
            mailbox,
            seq: 0,
            done: false,
        }
    }

    /// The next frame to write, waiting for one; `None` once the session is gone and the
    /// queue is drained, or after the close frame.
    pub async fn recv(&mut self) -> Option<OutFrame> {
        loop {
            match self.next() {
                Next::Frame(frame) => return Some(frame),
                Next::End => return None,
                // `next` flagged the writer as waiting under the lock; a push after that
                // wakes it, and `notify_one` keeps the permit if it lands before this wait.
                Next::Empty => self.mailbox.ready.notified().await,
            }
        }
    }

    /// A handle that tells when this connection's queue overflows, for a writer that may
    /// be blocked on a socket the client stopped reading.
    pub(crate) fn overflow_signal(&self) -> Arc<Mailbox> {
        self.mailbox.clone()
    }

    /// The next frame to write if one is queued now.
    pub fn try_recv(&mut self) -> Option<OutFrame> {
        match self.next() {
            Next::Frame(frame) => Some(frame),
            Next::End | Next::Empty => None,
        }
    }

    fn next(&mut self) -> Next {
        if self.done {
            return Next::End;
        }
        let mut queue = self.mailbox.lock();
        if queue.overflowed {
            self.done = true;
            return Next::Frame(OutFrame::Close(CloseReason::SLOW_CONSUMER));
        }
        let popped = queue.frames.pop_front();
        if let Some(frame) = &popped {
            queue.bytes -= frame.weight();
        }
        let closed = queue.closed;
        if popped.is_none() && !closed {
            queue.writer_waits = true;
        }
        drop(queue);
        match popped {
            Some(frame) => Next::Frame(self.render(frame)),
            None if closed => Next::End,
            None => Next::Empty,
        }
    }

    fn render(&mut self, frame: Outgoing) -> OutFrame {
        match frame {
            Outgoing::Event(event) => {
                self.seq += 1;
                OutFrame::Text(event.render(self.seq))
            }
            Outgoing::Text(text) => OutFrame::Text(text),
            Outgoing::Pong(data) => OutFrame::Pong(data),
        }
    }
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(frames: usize) -> Arc<Mailbox> {
        Arc::new(Mailbox::new(Bounds {
            frames,
            bytes: 1 << 20,
            policy: SlowConsumer::Close,
        }))
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("ready without waiting")
    }

    #[test]
    fn a_closed_queue_drains_then_ends() {
        let mailbox = mailbox(4);
        let mut outbound = Outbound::new(mailbox.clone());
        assert!(matches!(
            mailbox.push(Outgoing::Text("a".into())),
            Push::Queued
        ));
        mailbox.close();
        assert!(matches!(
            mailbox.push(Outgoing::Text("b".into())),
            Push::Closed
        ));
        assert_eq!(block(outbound.recv()), Some(OutFrame::Text("a".into())));
        assert_eq!(block(outbound.recv()), None);
    }

    #[test]
    fn an_empty_open_queue_waits() {
        let mailbox = mailbox(4);
        let mut outbound = Outbound::new(mailbox.clone());
        assert!(futures_util::FutureExt::now_or_never(outbound.recv()).is_none());
        assert_eq!(outbound.try_recv(), None);
        assert!(matches!(
            mailbox.push(Outgoing::Pong(vec![1])),
            Push::Queued
        ));
        assert_eq!(block(outbound.recv()), Some(OutFrame::Pong(vec![1])));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_writer_is_woken_by_the_next_push() {
        let mailbox = mailbox(4);
        let mut outbound = Outbound::new(mailbox.clone());
        let writer = tokio::spawn(async move { outbound.recv().await });
        // Let the writer find the queue empty and wait (it may also still be on its way:
        // either order must work).
        tokio::task::yield_now().await;
        assert!(matches!(
            mailbox.push(Outgoing::Text("late".into())),
            Push::Queued
        ));
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .expect("the writer was woken")
            .unwrap();
        assert_eq!(frame, Some(OutFrame::Text("late".into())));
    }

    #[test]
    fn overflow_frees_the_queue_and_closes_once() {
        let mailbox = mailbox(1);
        let mut outbound = Outbound::new(mailbox.clone());
        assert!(matches!(
            mailbox.push(Outgoing::Text("a".into())),
            Push::Queued
        ));
        assert!(matches!(
            mailbox.push(Outgoing::Text("b".into())),
            Push::Full
        ));
        assert!(matches!(
            mailbox.push(Outgoing::Text("c".into())),
            Push::Full
        ));
        assert_eq!(
            block(outbound.recv()),
            Some(OutFrame::Close(CloseReason::SLOW_CONSUMER))
        );
        assert_eq!(block(outbound.recv()), None);
    }
}
