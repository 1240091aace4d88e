//! One connection's bounded outbound queue: the hub and the connection push into its
//! [`Mailbox`], the transport's writer drains it through its [`OutboundQueue`].
//!
//! The queue also paces the connection's own reading: before the next request is read, and
//! before a handler's next event to its own requester, the connection waits for room
//! ([`Mailbox::room`]), so a client that pipelines requests is slowed down by TCP instead of
//! overflowing its queue. Only deliveries from elsewhere (other connections, other nodes)
//! can overflow it.
//!
//! A `Mutex<VecDeque>` plus a `Notify` rather than a channel: an idle connection's empty
//! queue allocates nothing (a bounded channel allocates its first block up front, ~1 KiB
//! per connection), and the queue can be bounded by more than a count.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

mod streams;
mod writer;

pub(crate) use writer::OutboundQueue;

use crate::envelope::EventFrame;
use crate::limits::{Limits, SlowConsumer};
use crate::wait;

/// A frame waiting in a queue: events get their `seq` only when they leave it.
pub(crate) enum Queued {
    Event(Arc<EventFrame>),
    Text(String),
    /// A keepalive ping.
    Ping,
    /// The last frame: close with this reason.
    Close(CloseReason),
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

    /// 1002: the client broke the WebSocket framing rules (an unmasked frame, a bad opcode,
    /// a continuation without a start, ...).
    pub const PROTOCOL_ERROR: Self = Self {
        code: 1002,
        reason: "WebSocket protocol error",
    };

    /// 1011: the client sent nothing, not even the pong to a keepalive ping, within the
    /// keepalive timeout.
    pub const KEEPALIVE_TIMEOUT: Self = Self {
        code: 1011,
        reason: "keepalive timeout: no frame from the client",
    };

    /// 1001: the server is shutting down.
    pub const GOING_AWAY: Self = Self {
        code: 1001,
        reason: "server shutting down",
    };

    /// 1008: the client went on sending actions after too many were refused for its rate
    /// limit.
    pub const RATE_LIMITED: Self = Self {
        code: 1008,
        reason: "too many requests",
    };

    /// 1008: a message that had started arriving was not complete within the message
    /// timeout.
    pub const MESSAGE_TIMEOUT: Self = Self {
        code: 1008,
        reason: "message not completed in time",
    };
}

/// A frame to write to the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outgoing {
    /// A text frame (an event or a problem).
    Text(String),
    /// A binary frame: an event or a problem for a MessagePack connection (feature
    /// `msgpack`).
    Binary(Vec<u8>),
    /// A keepalive ping (empty payload).
    Ping,
    /// Close the connection with this code and reason, then stop.
    Close(CloseReason),
}

impl Queued {
    /// What the frame holds in memory while queued, for the byte bound.
    fn weight(&self) -> usize {
        match self {
            Queued::Event(event) => event.len(),
            Queued::Text(text) => text.len(),
            Queued::Ping | Queued::Close(_) => 0,
        }
    }

    fn droppable(&self) -> bool {
        matches!(self, Queued::Event(event) if event.droppable())
    }
}

/// The bounds and policy of one queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) frames: usize,
    pub(crate) bytes: usize,
    pub(crate) policy: SlowConsumer,
}

impl From<&Limits> for Bounds {
    fn from(limits: &Limits) -> Self {
        Self {
            frames: limits.outbound_queue(),
            bytes: limits.outbound_queue_bytes(),
            policy: limits.slow_consumer(),
        }
    }
}

/// A FIFO whose first frame is stored inline: most queues hold zero or one frame, and a
/// fan-out to thousands of connections then touches no separate buffer per connection.
#[derive(Default)]
struct Frames {
    first: Option<Queued>,
    rest: VecDeque<Queued>,
}

impl Frames {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    fn push_back(&mut self, frame: Queued) {
        if self.is_empty() {
            self.first = Some(frame);
        } else {
            self.rest.push_back(frame);
        }
    }

    fn pop_front(&mut self) -> Option<Queued> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

#[derive(Default)]
struct Queue {
    frames: Frames,
    bytes: usize,
    /// The client fell too far behind: nothing more is queued, the writer closes.
    overflowed: bool,
    /// The connection is gone: the writer drains what is queued, then ends.
    closed: bool,
    /// The server is closing the connection: the close frame is queued last, nothing is
    /// queued after it.
    finishing: bool,
    /// The writer found the queue empty and waits to be woken (see [`OutboundQueue::recv`]).
    writer_waits: bool,
    /// The connection found the queue full and waits for room (see [`Mailbox::room`]).
    reader_waits: bool,
    /// Version 2: the streams this connection received events of, and the one it
    /// recovers. Boxed and made on first use, so a connection that never gets a stream
    /// event pays one pointer.
    streams: Option<Box<streams::StreamsSeen>>,
}

/// The sending side, shared by the hub (deliveries) and the connection (replies, problems,
/// keepalive pings).
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Wakes a connection waiting for room in its queue.
    room: Notify,
    /// Wakes a writer stuck on a socket that stopped accepting data.
    overflow: Notify,
    bounds: Bounds,
    /// Whether stream positions are tracked (version 2 connections, which can recover).
    tracks_streams: bool,
}

/// Whom a push must wake, once the queue's lock is released.
#[derive(Debug, Clone, Copy, Default)]
struct Wake {
    writer: bool,
    overflow: bool,
}

pub(crate) enum Push {
    Queued,
    Full,
    Closed,
}

impl Mailbox {
    pub(crate) fn new(bounds: Bounds, version: u8) -> Self {
        Self {
            queue: Mutex::default(),
            ready: Notify::new(),
            room: Notify::new(),
            overflow: Notify::new(),
            bounds,
            tracks_streams: version == 2,
        }
    }

    /// Queues a frame unless the queue is closed or full; a full queue gives up on the
    /// connection, or drops the frame when the policy allows it. On a version-2 connection
    /// recovering a stream, that stream's live events are held back until the replay is
    /// queued (`streams.rs`).
    pub(crate) fn push(&self, frame: Queued) -> Push {
        let mut queue = self.lock();
        if self.tracks_streams
            && let Queued::Event(event) = &frame
            && event.position().is_some()
            && queue.streams.get_or_insert_default().hold(event)
        {
            return Push::Queued;
        }
        self.enqueue(queue, frame)
    }

    /// Queues `frame` with the queue locked (the guard is released before waking anyone).
    fn enqueue(&self, mut queue: MutexGuard<'_, Queue>, frame: Queued) -> Push {
        let (pushed, wake) = self.put(&mut queue, frame);
        drop(queue);
        self.wake(wake);
        pushed
    }

    /// Puts `frame` in the locked queue, and says whom to wake once the lock is released.
    fn put(&self, queue: &mut Queue, frame: Queued) -> (Push, Wake) {
        let weight = frame.weight();
        if queue.closed || queue.finishing {
            return (Push::Closed, Wake::default());
        }
        if queue.overflowed {
            return (Push::Full, Wake::default());
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
            let writer = std::mem::take(&mut queue.writer_waits);
            return (
                Push::Queued,
                Wake {
                    writer,
                    overflow: false,
                },
            );
        }
        if self.bounds.policy == SlowConsumer::DropDroppable && frame.droppable() {
            return (Push::Full, Wake::default());
        }
        queue.overflowed = true;
        // What is queued will never be written: free it now.
        queue.frames = Frames::default();
        queue.bytes = 0;
        (
            Push::Full,
            Wake {
                writer: true,
                overflow: true,
            },
        )
    }

    fn wake(&self, wake: Wake) {
        if wake.writer {
            self.ready.notify_one();
        }
        if wake.overflow {
            self.overflow.notify_waiters();
        }
    }

    /// Queues a frame only if it fits, never giving up on the connection: for what the
    /// server adds on its own (keepalive pings), which can simply wait for the next turn.
    pub(crate) fn offer(&self, frame: Queued) -> bool {
        let mut queue = self.lock();
        let fits = !queue.closed
            && !queue.finishing
            && !queue.overflowed
            && queue.frames.len() < self.bounds.frames
            && queue.bytes + frame.weight() <= self.bounds.bytes;
        if fits {
            queue.bytes += frame.weight();
            queue.frames.push_back(frame);
            let wake = std::mem::take(&mut queue.writer_waits);
            drop(queue);
            if wake {
                self.ready.notify_one();
            }
        }
        fits
    }

    /// Queues the close frame after everything already queued, and refuses anything else
    /// from then on: the writer sends what the client was already owed, then closes.
    pub(crate) fn finish(&self, reason: CloseReason) {
        let mut queue = self.lock();
        if queue.closed || queue.finishing || queue.overflowed {
            return;
        }
        queue.finishing = true;
        queue.frames.push_back(Queued::Close(reason));
        let wake = std::mem::take(&mut queue.writer_waits);
        drop(queue);
        if wake {
            self.ready.notify_one();
        }
        self.room.notify_waiters();
    }

    /// Whether one more frame of average size fits now (or the queue no longer takes any,
    /// so waiting for room would be pointless).
    fn has_room(queue: &Queue, bounds: &Bounds) -> bool {
        queue.closed
            || queue.finishing
            || queue.overflowed
            || (queue.frames.len() < bounds.frames && queue.bytes < bounds.bytes)
    }

    /// Resolves once the queue has room for another frame: true, or false when the queue
    /// takes no more frames (the connection is closing). The connection waits here before it
    /// reads the next request and before a handler's next event to its own requester, so a
    /// client that asks faster than it reads is slowed down instead of disconnected.
    pub(crate) async fn room(&self) -> bool {
        wait::until(&self.room, || {
            let mut queue = self.lock();
            if queue.closed || queue.finishing || queue.overflowed {
                return Some(false);
            }
            if Self::has_room(&queue, &self.bounds) {
                return Some(true);
            }
            queue.reader_waits = true;
            None
        })
        .await
    }

    /// Resolves once the queue has overflowed.
    pub(crate) async fn overflowed(&self) {
        wait::until(&self.overflow, || self.lock().overflowed.then_some(())).await;
    }

    /// Marks the connection gone; the writer ends once the queue is drained.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
        self.room.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section is a single push, pop or flag change, so a panic elsewhere
        // cannot leave the queue inconsistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
