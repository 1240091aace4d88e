//! Limits with documented defaults: nothing a client sends or fails to read grows memory
//! without bound.

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            outbound_queue: 1024,
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
}
