//! A delivery as it crosses Redis: the channel it is published on, and the message.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::super::{RemoteDelivery, Topic};

/// The message. Strings borrow from the payload where they can (the event text is JSON, so
/// it arrives escaped and is decoded into an owned string).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Wire<'a> {
    #[serde(borrow)]
    pub(super) origin: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub(super) connections: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) text: Cow<'a, str>,
    pub(super) seq_at: usize,
    pub(super) droppable: bool,
    /// Unix time in milliseconds after which the publisher has reported the delivery lost:
    /// a node that receives it later drops it, so "lost" never means "arrived late".
    pub(super) expires_at_ms: u64,
}

impl<'a> Wire<'a> {
    /// The message for `delivery`, which its publisher gives up on after `timeout`.
    pub(super) fn new(delivery: &'a RemoteDelivery, timeout: Duration) -> Self {
        let (text, seq_at, droppable) = delivery.frame.to_parts();
        Self {
            origin: Cow::Borrowed(&delivery.origin),
            connections: delivery
                .connections
                .iter()
                .map(|id| Cow::Borrowed(id.as_str()))
                .collect(),
            text: Cow::Borrowed(text),
            seq_at,
            droppable,
            expires_at_ms: unix_ms().saturating_add(millis(timeout)),
        }
    }

    /// Whether the publisher has given up on it by now (by this node's clock).
    pub(super) fn expired(&self) -> bool {
        unix_ms() > self.expires_at_ms
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The channel a topic is published on.
pub(super) fn channel(prefix: &str, topic: &Topic) -> String {
    match topic {
        Topic::Node(node) => format!("{prefix}:node:{node}"),
        Topic::User(user) => format!("{prefix}:user:{user}"),
        Topic::Group(group) => format!("{prefix}:group:{group}"),
    }
}

/// The topic a channel stands for, if it is one of ours.
pub(super) fn topic_of(channel: &str, prefix: &str) -> Option<Topic> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix(':')?;
    let (kind, id) = rest.split_once(':')?;
    match kind {
        "node" => Some(Topic::Node(id.into())),
        "user" => Some(Topic::User(id.into())),
        "group" => Some(Topic::Group(id.into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::envelope::EventFrame;
    use crate::recipient::{ConnectionId, Recipient};

    #[test]
    fn channels_round_trip_to_topics() {
        for topic in [
            Topic::Node("abc".into()),
            Topic::User("ada:lovelace".into()),
            Topic::Group("room 1".into()),
        ] {
            assert_eq!(
                topic_of(&channel("beeflow", &topic), "beeflow"),
                Some(topic)
            );
        }
        assert_eq!(topic_of("other:user:x", "beeflow"), None);
        assert_eq!(topic_of("beeflow:planet:x", "beeflow"), None);
    }

    #[test]
    fn the_wire_form_round_trips_and_expires() {
        let frame = EventFrame::new(None, "e", &Recipient::user("u\"1"), r#"{"a":"b\\"}"#, true);
        let delivery = RemoteDelivery {
            topic: Topic::Node("n".into()),
            connections: vec![ConnectionId::new("n.1")],
            frame: Arc::new(frame.clone()),
            origin: "m".into(),
        };
        let bytes = serde_json::to_vec(&Wire::new(&delivery, Duration::from_secs(60))).unwrap();
        let back: Wire<'_> = serde_json::from_slice(&bytes).unwrap();
        let rebuilt = EventFrame::from_parts(&back.text, back.seq_at, back.droppable).unwrap();
        assert_eq!(rebuilt, frame);
        assert_eq!(back.connections, ["n.1"]);
        assert!(!back.expired());
        let mut stale = back;
        stale.expires_at_ms = unix_ms() - 1;
        assert!(stale.expired());
    }
}
