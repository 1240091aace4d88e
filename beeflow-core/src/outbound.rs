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

#[derive(Default)]
struct Queue {
    frames: VecDeque<Outgoing>,
    /// The client fell too far behind: nothing more is queued, the writer closes.
    overflowed: bool,
    /// The session is gone: the writer drains what is queued, then ends.
    closed: bool,
}

/// The sending side, shared by the hub (deliveries) and the session (problems, pongs).
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
    ready: Notify,
    capacity: usize,
}

pub(crate) enum Push {
    Queued,
    Full,
    Closed,
}

impl Mailbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::default(),
            ready: Notify::new(),
            capacity,
        }
    }

    /// Queues a frame unless the queue is full (which gives up on the connection) or closed.
    pub(crate) fn push(&self, frame: Outgoing) -> Push {
        let mut queue = self.lock();
        let pushed = if queue.closed {
            Push::Closed
        } else if queue.overflowed {
            Push::Full
        } else if queue.frames.len() >= self.capacity {
            queue.overflowed = true;
            // What is queued will never be written: free it now.
            queue.frames = VecDeque::new();
            Push::Full
        } else {
            queue.frames.push_back(frame);
            Push::Queued
        };
        drop(queue);
        if !matches!(pushed, Push::Closed) {
            self.ready.notify_one();
        }
        pushed
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
                // `notify_one` keeps a permit when nobody waits, so a push between the
                // check and this wait is not missed.
                Next::Empty => self.mailbox.ready.notified().await,
            }
        }
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
        let closed = queue.closed;
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

    fn block<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("ready without waiting")
    }

    #[test]
    fn a_closed_queue_drains_then_ends() {
        let mailbox = Arc::new(Mailbox::new(4));
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
        let mailbox = Arc::new(Mailbox::new(4));
        let mut outbound = Outbound::new(mailbox.clone());
        assert!(futures_util::FutureExt::now_or_never(outbound.recv()).is_none());
        assert_eq!(outbound.try_recv(), None);
        assert!(matches!(
            mailbox.push(Outgoing::Pong(vec![1])),
            Push::Queued
        ));
        assert_eq!(block(outbound.recv()), Some(OutFrame::Pong(vec![1])));
    }

    #[test]
    fn overflow_frees_the_queue_and_closes_once() {
        let mailbox = Arc::new(Mailbox::new(1));
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
