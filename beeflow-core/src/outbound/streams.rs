//! Version 2's recovery, on one connection's queue (`docs/protocol.md` §6.4): which streams
//! the connection received events of (the first offset of each), and, while it recovers a
//! stream, that stream's live events held back until the replay is queued, so the replay
//! comes first and nothing is sent twice.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Mailbox, Push, Queued, Wake};
use crate::envelope::EventFrame;

/// What one version-2 connection's queue knows of streams.
#[derive(Default)]
pub(super) struct StreamsSeen {
    /// The first position (epoch, offset) of each stream this connection received live.
    first: HashMap<Arc<str>, (Arc<str>, u64)>,
    /// The stream being recovered, and its live events held back meanwhile.
    recovering: Option<(Arc<str>, Vec<Arc<EventFrame>>)>,
    /// Per recovered stream, the epoch and last offset its replay queued: a live event
    /// at or below it arrived after the history was read, and was replayed already.
    replayed: HashMap<Arc<str>, (Arc<str>, u64)>,
}

impl StreamsSeen {
    /// Takes note of a live stream event; true when it is not to be queued: held back
    /// (its stream is being recovered), or already replayed.
    pub(super) fn hold(&mut self, event: &Arc<EventFrame>) -> bool {
        let Some(position) = event.position() else {
            return false;
        };
        if let Some((epoch, last)) = self.replayed.get(&position.stream)
            && *epoch == position.epoch
            && position.offset <= *last
        {
            return true;
        }
        if let Some((stream, held)) = &mut self.recovering
            && *stream == position.stream
        {
            held.push(event.clone());
            return true;
        }
        let first = (position.epoch.clone(), position.offset);
        match self.first.get_mut(&position.stream) {
            // A new epoch starts the stream over: its first event is the one that counts.
            Some(seen) if seen.0 != position.epoch => *seen = first,
            Some(_) => {}
            None => {
                self.first.insert(position.stream.clone(), first);
            }
        }
        false
    }
}

impl Mailbox {
    /// Starts holding back `stream`'s live events (until [`Mailbox::end_recovery`]).
    pub(crate) fn begin_recovery(&self, stream: &Arc<str>) {
        let mut queue = self.lock();
        let streams = queue.streams.get_or_insert_default();
        streams.recovering = Some((stream.clone(), Vec::new()));
    }

    /// Queues `replay` (the stream's missed events, oldest first; empty when recovery
    /// failed), leaving out any this connection already received live, then the live events
    /// held back since [`Mailbox::begin_recovery`] that the replay did not contain.
    pub(crate) fn end_recovery(&self, replay: &[Arc<EventFrame>]) {
        let mut queue = self.lock();
        let Some(streams) = queue.streams.as_mut() else {
            return;
        };
        let Some((stream, held)) = streams.recovering.take() else {
            return;
        };
        // Events from the first live one on (in its epoch) were queued before the recovery
        // began.
        let received_from = streams.first.get(&stream).cloned();
        let already_sent = |epoch: &Arc<str>, offset: u64| {
            received_from
                .as_ref()
                .is_some_and(|(first_epoch, first)| first_epoch == epoch && offset >= *first)
        };
        let mut last: Option<(Arc<str>, u64)> = None;
        let mut frames = Vec::with_capacity(replay.len() + held.len());
        for event in replay {
            let Some(position) = event.position() else {
                continue;
            };
            if !already_sent(&position.epoch, position.offset) {
                last = Some((position.epoch.clone(), position.offset));
                frames.push(event.clone());
            }
        }
        for event in held {
            let replayed = event.position().is_some_and(|p| {
                last.as_ref()
                    .is_some_and(|(epoch, offset)| *epoch == p.epoch && p.offset <= *offset)
            });
            if !replayed {
                frames.push(event);
            }
        }
        if let Some(first) = frames.iter().find_map(|f| f.position()) {
            streams
                .first
                .entry(stream.clone())
                .or_insert_with(|| (first.epoch.clone(), first.offset));
        }
        if let Some(replayed) = last {
            streams.replayed.insert(stream, replayed);
        }
        // All under this one lock: a live event pushed meanwhile lands after them.
        let mut wake = Wake::default();
        for frame in frames {
            let (pushed, woken) = self.put(&mut queue, Queued::Event(frame));
            wake.writer |= woken.writer;
            wake.overflow |= woken.overflow;
            if !matches!(pushed, Push::Queued) {
                break;
            }
        }
        drop(queue);
        self.wake(wake);
    }
}
