//! Limits with documented defaults: nothing a client sends or fails to read grows memory
//! without bound.

use crate::outbound::{Bounds, SlowConsumer};

/// Per-connection limits.
///
/// ```
/// use beeflow_core::Limits;
///
/// let limits = Limits::default().with_outbound_queue(256);
/// assert_eq!(limits.outbound_queue, 256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Frames (events and problems) queued for one connection before the server gives up on
    /// it and closes it with 1008. Default: 1024.
    pub outbound_queue: usize,
    /// Bytes of frames queued for one connection before the same happens. A single frame
    /// larger than this still goes through an empty queue. Default: 1 MiB.
    pub outbound_queue_bytes: usize,
    /// What happens when a client reads too slowly to stay within the two bounds above.
    /// Default: [`SlowConsumer::Close`].
    pub slow_consumer: SlowConsumer,
    /// The largest message a client may send, in bytes; a bigger one closes the connection
    /// with 1009. Default: 2 MiB.
    pub max_message_size: usize,
    /// The largest single frame, in bytes. Default: 2 MiB.
    pub max_frame_size: usize,
    /// The socket read buffer per connection, in bytes. Default: 4 KiB — measured with axum
    /// 0.8, the transport's 128 KiB default costs ~134 KiB per idle connection, 4 KiB ~6 KiB,
    /// and was no slower.
    pub read_buffer_size: usize,
    /// Bytes buffered before a write is flushed to the socket. Default: 4 KiB.
    pub write_buffer_size: usize,
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
        }
    }
}

impl Limits {
    /// Sets [`Limits::outbound_queue`].
    ///
    /// # Panics
    ///
    /// Panics if `frames` is zero: a connection must be able to receive at least one frame.
    #[must_use]
    pub fn with_outbound_queue(mut self, frames: usize) -> Self {
        assert!(
            frames > 0,
            "the outbound queue must hold at least one frame"
        );
        self.outbound_queue = frames;
        self
    }

    /// Sets [`Limits::slow_consumer`].
    #[must_use]
    pub fn with_slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.slow_consumer = policy;
        self
    }

    /// Sets [`Limits::outbound_queue_bytes`].
    #[must_use]
    pub fn with_outbound_queue_bytes(mut self, bytes: usize) -> Self {
        self.outbound_queue_bytes = bytes;
        self
    }

    pub(crate) fn queue_bounds(&self) -> Bounds {
        Bounds {
            frames: self.outbound_queue,
            bytes: self.outbound_queue_bytes,
            policy: self.slow_consumer,
        }
    }

    /// Sets [`Limits::max_message_size`] and [`Limits::max_frame_size`] together.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self.max_frame_size = bytes;
        self
    }
}
