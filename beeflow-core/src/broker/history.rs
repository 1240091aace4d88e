//! Stream history in memory ([`MemoryBroker`](super::MemoryBroker)): per stream, its epoch,
//! its last offset and its last events, within the [`HistoryLimits`]. A stream with nothing
//! younger than the age limit is forgotten, so memory follows the streams in use; its next
//! event starts a new epoch.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use super::HistoryRead;
use crate::envelope::{EventFrame, Position};
use crate::limits::HistoryLimits;

/// Every stream's history.
#[derive(Default)]
pub(super) struct MemoryHistory {
    streams: HashMap<Arc<str>, Stream>,
    /// Appends since the last sweep for idle streams.
    appends: usize,
}

struct Stream {
    epoch: Arc<str>,
    top: u64,
    /// The kept events, oldest first, with when they were appended.
    events: VecDeque<(Instant, Arc<EventFrame>)>,
    last: Instant,
}

impl Stream {
    fn new(now: Instant) -> Self {
        Self {
            epoch: Uuid::new_v4().simple().to_string()[..8].into(),
            top: 0,
            events: VecDeque::new(),
            last: now,
        }
    }

    /// Drops what the limits no longer keep.
    fn trim(&mut self, limits: HistoryLimits, now: Instant) {
        while self.events.len() > limits.size {
            self.events.pop_front();
        }
        while self
            .events
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > limits.age)
        {
            self.events.pop_front();
        }
    }
}

/// How many appends between two sweeps for idle streams.
const SWEEP_EVERY: usize = 1024;

impl MemoryHistory {
    /// Gives `frame` the next position of `stream` (in place when it is not shared), and
    /// keeps it.
    pub(super) fn append(
        &mut self,
        stream: Arc<str>,
        frame: &mut Arc<EventFrame>,
        limits: HistoryLimits,
        now: Instant,
    ) {
        self.appends += 1;
        if self.appends >= SWEEP_EVERY {
            self.appends = 0;
            self.streams
                .retain(|_, s| now.duration_since(s.last) <= limits.age);
        }
        let state = self
            .streams
            .entry(stream.clone())
            .or_insert_with(|| Stream::new(now));
        if now.duration_since(state.last) > limits.age {
            // Idle past the age limit: as if forgotten by the last sweep.
            *state = Stream::new(now);
        }
        state.top += 1;
        let position = Position {
            stream,
            offset: state.top,
            epoch: state.epoch.clone(),
        };
        Arc::make_mut(frame).set_position(position);
        state.last = now;
        state.events.push_back((now, frame.clone()));
        state.trim(limits, now);
    }

    /// The events of `stream` after `after`, if all are kept and at most `limit`.
    pub(super) fn read(
        &mut self,
        stream: &str,
        after: u64,
        limit: usize,
        limits: HistoryLimits,
        now: Instant,
    ) -> Option<HistoryRead> {
        let state = self.streams.get_mut(stream)?;
        state.trim(limits, now);
        let missed = state.top.saturating_sub(after);
        let first_kept = state
            .events
            .front()
            .and_then(|(_, e)| e.position())
            .map_or(state.top + 1, |p| p.offset);
        let complete = after <= state.top
            && missed <= limit as u64
            && (missed == 0 || first_kept <= after + 1);
        let events = complete.then(|| {
            state
                .events
                .iter()
                .filter(|(_, e)| e.position().is_some_and(|p| p.offset > after))
                .map(|(_, e)| e.clone())
                .collect()
        });
        Some(HistoryRead {
            epoch: state.epoch.clone(),
            top: state.top,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::recipient::Recipient;

    fn limits(size: usize) -> HistoryLimits {
        HistoryLimits {
            size,
            age: Duration::from_secs(60),
        }
    }

    fn frame() -> Arc<EventFrame> {
        Arc::new(EventFrame::new(
            None,
            "e",
            &Recipient::group("g"),
            "{}",
            false,
        ))
    }

    fn offsets(read: &HistoryRead) -> Option<Vec<u64>> {
        read.events.as_ref().map(|events| {
            events
                .iter()
                .map(|e| e.position().unwrap().offset)
                .collect()
        })
    }

    #[test]
    fn offsets_count_per_stream_and_reads_need_every_missed_event() {
        let mut history = MemoryHistory::default();
        let now = Instant::now();
        let g: Arc<str> = "group:g".into();
        for _ in 0..5 {
            history.append(g.clone(), &mut frame(), limits(3), now);
        }
        let mut other = frame();
        history.append("group:h".into(), &mut other, limits(3), now);
        assert_eq!(other.position().unwrap().offset, 1);
        let read = history.read("group:g", 2, 10, limits(3), now).unwrap();
        assert_eq!((read.top, offsets(&read)), (5, Some(vec![3, 4, 5])));
        let trimmed = history.read("group:g", 1, 10, limits(3), now).unwrap();
        assert_eq!(offsets(&trimmed), None, "event 2 is no longer kept");
        let over = history.read("group:g", 2, 2, limits(3), now).unwrap();
        assert_eq!(offsets(&over), None, "more than the limit");
        let current = history.read("group:g", 5, 2, limits(3), now).unwrap();
        assert_eq!(offsets(&current), Some(vec![]));
        assert!(history.read("group:none", 0, 2, limits(3), now).is_none());
    }

    #[test]
    fn an_idle_stream_starts_a_new_epoch() {
        let mut history = MemoryHistory::default();
        let start = Instant::now();
        let g: Arc<str> = "group:g".into();
        let (mut first, mut second) = (frame(), frame());
        history.append(g.clone(), &mut first, limits(3), start);
        let later = start + Duration::from_secs(61);
        history.append(g, &mut second, limits(3), later);
        let (a, b) = (first.position().unwrap(), second.position().unwrap());
        assert_ne!(a.epoch, b.epoch);
        assert_eq!(b.offset, 1);
    }
}
