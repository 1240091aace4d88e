//! What arrives from Redis: each message's deliveries, handed to this node's connections,
//! and the stream positions they carry, to notice what this node missed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::presence::Notice;
use super::runs::{self, RunPositions};
use super::wire::{PRESENCE, Wire};
use super::{Inner, direct};
use crate::broker::{ForwardedAction, Inbox, RemoteDelivery, Topic};

/// The last position this node received of each stream it listens to, to notice losses.
#[derive(Default)]
pub(super) struct Positions(HashMap<Arc<str>, (Arc<str>, u64)>);

impl Positions {
    /// Takes note of `delivery`'s stream positions, counting and logging what was missed:
    /// returns the events missed and the streams seen under a new epoch.
    fn note(&mut self, delivery: &RemoteDelivery) -> (u64, u64) {
        let (mut missed, mut new_epochs) = (0, 0);
        for position in delivery.parts.iter().filter_map(|p| p.frame.position()) {
            let now = (position.epoch.clone(), position.offset);
            let Some((epoch, last)) = self.0.insert(position.stream.clone(), now) else {
                continue;
            };
            if epoch != position.epoch {
                new_epochs += 1;
                tracing::warn!(
                    stream = &*position.stream,
                    "a stream restarted under a new epoch: its history was lost"
                );
            } else if position.offset > last + 1 {
                let gap = position.offset - last - 1;
                missed += gap;
                tracing::warn!(
                    stream = &*position.stream,
                    missed = gap,
                    "this node missed stream events; its clients can recover them"
                );
            }
        }
        (missed, new_epochs)
    }

    /// Forgets the stream of a topic this node no longer listens to.
    pub(super) fn forget(&mut self, topic: &Topic) {
        if let Some(stream) = topic.stream() {
            self.0.remove(&stream);
        }
    }
}

pub(super) fn deliver(
    inner: &Inner,
    inbox: &Inbox,
    node: &str,
    seen: &mut Positions,
    channel: &str,
    payload: &[u8],
) {
    let presence = channel
        .strip_prefix(inner.names.presence_prefix())
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|rest| rest.strip_prefix(PRESENCE));
    if let Some(group) = presence {
        match serde_json::from_slice::<Notice>(payload) {
            Ok(notice) => {
                inbox.presence_notice(group, &notice.user, notice.joined);
            }
            Err(_) => tracing::warn!(channel, "ignored a malformed presence notice"),
        }
        return;
    }
    if let Some(action) = payload.strip_prefix(&[direct::ACTION_MARK]) {
        match serde_json::from_slice::<ForwardedAction>(action) {
            Ok(action) => inbox.forward_action(action),
            Err(_) => tracing::warn!(channel, "ignored a malformed forwarded action"),
        }
        return;
    }
    let Some((mut positions, deliveries)) = runs::split_message(payload) else {
        tracing::warn!(channel, "ignored a malformed stream message");
        return;
    };
    for payload in deliveries {
        if !deliver_one(
            inner,
            inbox,
            node,
            seen,
            channel,
            positions.as_mut(),
            payload,
        ) {
            // The rest of the run cannot be positioned.
            break;
        }
    }
}

/// Delivers one delivery of a message heard on `channel`, giving it the next positions of
/// its run; false when it is malformed.
fn deliver_one(
    inner: &Inner,
    inbox: &Inbox,
    node: &str,
    seen: &mut Positions,
    channel: &str,
    run: Option<&mut RunPositions>,
    payload: &[u8],
) -> bool {
    let Ok(mut wire) = serde_json::from_slice::<Wire<'_>>(payload) else {
        tracing::warn!(channel, "ignored a message that is not a beeflow delivery");
        return false;
    };
    if wire.origin == node && run.is_none() {
        // Our own publish to connections, on a channel we also listen to: delivered
        // locally already. (Stream deliveries are delivered here when heard back.)
        return true;
    }
    let expired = wire.expired();
    let (Some(earlier), Some(mut delivery)) = (wire.take_earlier(), wire.into_delivery()) else {
        tracing::warn!(channel, "ignored a malformed beeflow delivery");
        return false;
    };
    if let Some(run) = run {
        // Taken before anything is dropped: the deliveries after it take the next ones.
        if !run.position(&mut delivery) {
            tracing::warn!(
                channel,
                "ignored a stream delivery whose positions do not match"
            );
            return false;
        }
    }
    if expired {
        // Redis held it past the publisher's timeout (it was frozen, or far behind): the
        // publisher reported it lost, and lost it stays.
        inner.expired.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::broker_expired();
        tracing::warn!(
            channel,
            "dropped a delivery that arrived after its publisher gave up on it"
        );
        return true;
    }
    let (missed, new_epochs) = seen.note(&delivery);
    inner.missed.fetch_add(missed, Ordering::Relaxed);
    inner.new_epochs.fetch_add(new_epochs, Ordering::Relaxed);
    let report = if earlier.is_empty() {
        inbox.deliver(&delivery)
    } else {
        inbox.deliver_after(&delivery, &earlier)
    };
    if *delivery.origin == *node
        && let Some(echo) = inner.echoes().remove(&delivery.id)
    {
        let _ = echo.send(report);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::RemotePart;
    use crate::envelope::{EventFrame, Position};
    use crate::recipient::Recipient;

    fn at(stream: &str, epoch: &str, offset: u64) -> RemoteDelivery {
        let frame =
            EventFrame::new(None, "e", &Recipient::group("g"), "{}", false).positioned(Position {
                stream: stream.into(),
                offset,
                epoch: epoch.into(),
            });
        RemoteDelivery {
            id: uuid::Uuid::new_v4(),
            parts: vec![RemotePart {
                topic: Topic::Group("g".into()),
                connections: Vec::new(),
                frame: Arc::new(frame),
            }],
            except: None,
            origin: "n".into(),
        }
    }

    #[test]
    fn gaps_and_new_epochs_are_counted_and_forgotten_streams_start_over() {
        let mut seen = Positions::default();
        assert_eq!(seen.note(&at("group:g", "e1", 1)), (0, 0));
        assert_eq!(seen.note(&at("group:g", "e1", 2)), (0, 0));
        assert_eq!(seen.note(&at("group:g", "e1", 5)), (2, 0), "3 and 4 missed");
        assert_eq!(seen.note(&at("group:g", "e2", 1)), (0, 1));
        seen.forget(&Topic::Group("g".into()));
        assert_eq!(
            seen.note(&at("group:g", "e2", 9)),
            (0, 0),
            "not listened to meanwhile"
        );
    }
}
