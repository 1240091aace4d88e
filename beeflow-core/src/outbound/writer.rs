//! The writer's end of a connection's queue: frames leave it in order, and events get their
//! `seq` and their rendering for the connection's protocol version here.

use std::fmt;
use std::sync::Arc;

use super::{CloseReason, Mailbox, Outgoing, Queued};
#[cfg(feature = "msgpack")]
use crate::envelope::msgpack;
use crate::envelope::{Encoding, Position};

/// The receiving end of one connection's outbound queue: the transport's writer drains it.
///
/// Events get their per-connection `seq` here, as they leave the queue, so `seq` is
/// gap-free whichever path (a reply, an emit from anywhere, another node) queued them.
pub(crate) struct OutboundQueue {
    mailbox: Arc<Mailbox>,
    seq: u64,
    /// The protocol version the connection speaks: how events are rendered.
    version: u8,
    /// JSON text or MessagePack binary frames.
    encoding: Encoding,
    /// Whether the position of each event handed out is kept for [`Self::take_position`]
    /// (SSE streams, whose event ids carry positions).
    reports_positions: bool,
    position: Option<Position>,
    /// Set once the close frame was handed out: nothing follows it.
    done: bool,
}

enum Next {
    Frame(Outgoing),
    End,
    Empty,
}

impl OutboundQueue {
    pub(crate) fn new(mailbox: Arc<Mailbox>, version: u8) -> Self {
        Self {
            mailbox,
            seq: 0,
            version,
            encoding: Encoding::Json,
            reports_positions: false,
            position: None,
            done: false,
        }
    }

    /// The next frame to write, waiting for one; `None` once the connection is gone and the
    /// queue is drained, or after the close frame.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
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

    /// Encodes frames as `encoding` from now on (set once, as the connection opens).
    pub(crate) fn set_encoding(&mut self, encoding: Encoding) {
        self.encoding = encoding;
    }

    /// Keeps the stream position of each event handed out from now on.
    pub(crate) fn report_positions(&mut self) {
        self.reports_positions = true;
    }

    /// The stream position of the event handed out last, if it had one (once).
    pub(crate) fn take_position(&mut self) -> Option<Position> {
        self.position.take()
    }

    /// The sending side of this queue.
    pub(crate) fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// The next frame to write if one is queued now.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
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
            return Next::Frame(Outgoing::Close(CloseReason::SLOW_CONSUMER));
        }
        let popped = queue.frames.pop_front();
        if let Some(frame) = &popped {
            queue.bytes -= frame.weight();
        }
        let closed = queue.closed;
        if popped.is_none() && !closed {
            queue.writer_waits = true;
        }
        // Only a connection that found the queue full waits for room; most pops wake nobody.
        let wake_reader = queue.reader_waits && Mailbox::has_room(&queue, &self.mailbox.bounds);
        if wake_reader {
            queue.reader_waits = false;
        }
        drop(queue);
        if wake_reader {
            self.mailbox.room.notify_waiters();
        }
        match popped {
            Some(frame) => Next::Frame(self.render(frame)),
            None if closed => Next::End,
            None => Next::Empty,
        }
    }

    fn render(&mut self, frame: Queued) -> Outgoing {
        match frame {
            Queued::Event(event) => {
                self.seq += 1;
                if self.reports_positions {
                    self.position = event.position().cloned();
                }
                match self.encoding {
                    Encoding::Json => Outgoing::Text(event.render(self.seq, self.version)),
                    #[cfg(feature = "msgpack")]
                    Encoding::MessagePack => Outgoing::Binary(event.render_msgpack(self.seq)),
                }
            }
            Queued::Text(text) => match self.encoding {
                Encoding::Json => Outgoing::Text(text),
                #[cfg(feature = "msgpack")]
                Encoding::MessagePack => Outgoing::Binary(msgpack::from_json(&text)),
            },
            Queued::Ping => Outgoing::Ping,
            Queued::Close(reason) => {
                self.done = true;
                Outgoing::Close(reason)
            }
        }
    }
}

impl fmt::Debug for OutboundQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundQueue")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}
