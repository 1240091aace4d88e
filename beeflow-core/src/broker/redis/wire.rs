//! A delivery as it crosses Redis: the channel it is published on, and the message.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::super::{EarlierPart, RemoteDelivery, RemotePart, Topic};
use crate::envelope::{EventFrame, FrameParts, Position};
use crate::recipient::ConnectionId;

/// The message. Strings borrow from the payload where they can (the event text is JSON, so
/// it arrives escaped and is decoded into an owned string).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Wire<'a> {
    pub(super) id: Uuid,
    #[serde(borrow)]
    pub(super) origin: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) parts: Vec<WirePart<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub(super) except: Option<Cow<'a, str>>,
    /// Unix time in milliseconds after which the publisher has reported the delivery lost:
    /// a node that receives it later drops it, so "lost" never means "arrived late".
    pub(super) expires_at_ms: u64,
    /// For a piece of an emit published in pieces (a cluster): whom the parts before it are
    /// for, whose connections it leaves out.
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub(super) earlier: Vec<WireTarget<'a>>,
}

/// Whom a part is for, without its event.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WireTarget<'a> {
    #[serde(borrow)]
    pub(super) topic: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub(super) connections: Vec<Cow<'a, str>>,
}

/// One part of a delivery: its topic (`user:<id>`, `group:<name>`, `node:<id>`), the
/// connections of a node topic, and the event frame (its text, where `seq` and the position
/// go, the event's id, and its stream position if it has one).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WirePart<'a> {
    #[serde(borrow)]
    pub(super) topic: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub(super) connections: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) text: Cow<'a, str>,
    pub(super) seq_at: usize,
    pub(super) payload_at: usize,
    pub(super) event_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) offset: Option<u64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub(super) epoch: Option<Cow<'a, str>>,
    pub(super) droppable: bool,
}

impl<'a> Wire<'a> {
    /// The message for `delivery`, which its publisher gives up on after `timeout`; a piece
    /// of an emit leaves out the connections of the `earlier` parts.
    pub(super) fn new(
        delivery: &'a RemoteDelivery,
        earlier: &'a [EarlierPart],
        timeout: Duration,
    ) -> Self {
        let parts = delivery
            .parts
            .iter()
            .map(|part| {
                let parts = part.frame.to_parts();
                let position = parts.position;
                WirePart {
                    topic: Cow::Owned(topic_key(&part.topic)),
                    connections: part
                        .connections
                        .iter()
                        .map(|id| Cow::Borrowed(id.as_str()))
                        .collect(),
                    text: Cow::Borrowed(parts.text),
                    seq_at: parts.seq_at,
                    payload_at: parts.payload_at,
                    event_id: parts.id,
                    offset: position.as_ref().map(|p| p.offset),
                    epoch: position.map(|p| Cow::Owned(p.epoch.to_string())),
                    droppable: parts.droppable,
                }
            })
            .collect();
        Self {
            id: delivery.id,
            origin: Cow::Borrowed(&delivery.origin),
            parts,
            except: delivery
                .except
                .as_ref()
                .map(|id| Cow::Borrowed(id.as_str())),
            expires_at_ms: unix_ms().saturating_add(millis(timeout)),
            earlier: earlier
                .iter()
                .map(|(topic, connections)| WireTarget {
                    topic: Cow::Owned(topic_key(topic)),
                    connections: connections
                        .iter()
                        .map(|id| Cow::Borrowed(id.as_str()))
                        .collect(),
                })
                .collect(),
        }
    }

    /// Whom the parts before this piece are for; `None` when one is malformed.
    pub(super) fn take_earlier(&mut self) -> Option<Vec<EarlierPart>> {
        std::mem::take(&mut self.earlier)
            .into_iter()
            .map(|target| {
                let topic = parse_topic_key(&target.topic)?;
                let connections = target
                    .connections
                    .into_iter()
                    .map(|id| ConnectionId::new(id.into_owned()))
                    .collect();
                Some((topic, connections))
            })
            .collect()
    }

    /// The delivery again; `None` when a part is malformed.
    pub(super) fn into_delivery(self) -> Option<RemoteDelivery> {
        let parts = self
            .parts
            .into_iter()
            .map(|part| {
                let topic = parse_topic_key(&part.topic)?;
                let position = match (part.offset, &part.epoch) {
                    (Some(offset), Some(epoch)) => Some(Position {
                        stream: topic.stream()?,
                        offset,
                        epoch: epoch.as_ref().into(),
                    }),
                    (None, None) => None,
                    _ => return None,
                };
                Some(RemotePart {
                    topic,
                    connections: part
                        .connections
                        .into_iter()
                        .map(|id| ConnectionId::new(id.into_owned()))
                        .collect(),
                    frame: Arc::new(EventFrame::from_parts(FrameParts {
                        text: &part.text,
                        seq_at: part.seq_at,
                        payload_at: part.payload_at,
                        id: part.event_id,
                        position,
                        droppable: part.droppable,
                    })?),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(RemoteDelivery {
            id: self.id,
            parts,
            except: self.except.map(|id| ConnectionId::new(id.into_owned())),
            origin: self.origin.as_ref().into(),
        })
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

/// The names of a broker's channels and keys, under its prefix.
///
/// On one Redis server a topic's channel is `<prefix>:<topic>`. In a cluster it is
/// `{<prefix>:<topic>}`, a hash tag: sharded pub/sub publishes it on the shard that owns the
/// slot of the tag, and a stream's history keys begin with the same tag, so the script that
/// appends to a stream and publishes on its channel touches one slot. Presence keys and
/// channels share the tag `{<prefix>}`: presence lives on one shard.
#[derive(Debug, Clone)]
pub(super) struct Names {
    prefix: String,
    sharded: bool,
    /// `<prefix>`, or `{<prefix>}` in a cluster.
    presence_prefix: String,
}

impl Names {
    pub(super) fn new(prefix: &str, sharded: bool) -> Self {
        let presence_prefix = if sharded {
            format!("{{{prefix}}}")
        } else {
            prefix.to_owned()
        };
        Self {
            prefix: prefix.to_owned(),
            sharded,
            presence_prefix,
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether channels are sharded (a cluster).
    pub(super) fn sharded(&self) -> bool {
        self.sharded
    }

    /// The channel a topic is published on; for a pattern, the glob of the channels it
    /// subscribes to (`PSUBSCRIBE`, classic channels in a cluster too).
    pub(super) fn channel(&self, topic: &Topic) -> String {
        let prefix = &self.prefix;
        match topic {
            Topic::Pattern(pattern) => format!("{}:group:{}", literal(prefix), glob(pattern)),
            Topic::Presence(group) => format!("{}:{PRESENCE}{group}", self.presence_prefix),
            _ if self.sharded => format!("{{{prefix}:{}}}", topic_key(topic)),
            _ => format!("{prefix}:{}", topic_key(topic)),
        }
    }

    /// The classic channel a group's events are also published on in a cluster, for the
    /// patterns of other nodes (sharded pub/sub has no patterns).
    pub(super) fn pattern_feed(&self, group: &str) -> String {
        format!("{}:group:{group}", self.prefix)
    }

    /// What a stream's history keys begin with (`<base>:history`, `<base>:meta`): its
    /// channel's hash tag, whatever the mode, so one script call touches one slot.
    pub(super) fn stream_base(&self, stream: &str) -> String {
        format!("{{{}:{stream}}}", self.prefix)
    }

    /// What the presence keys and channels begin with.
    pub(super) fn presence_prefix(&self) -> &str {
        &self.presence_prefix
    }
}

/// What a presence channel's name starts with, after the prefix and `:`.
pub(super) const PRESENCE: &str = "presence:";

/// `text` with the glob's special characters escaped, to match itself only.
fn literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A glob for the group channels a pattern topic may match. Globs have no "one token", so
/// `*` and `>` become `*`, which may match more: the hub matches the group again exactly.
/// Each literal token narrows the channels, so only a pattern without one (`*`, `>`)
/// listens to every group.
fn glob(pattern: &str) -> String {
    let mut glob = String::with_capacity(pattern.len());
    for (i, token) in pattern.split('.').enumerate() {
        if i > 0 {
            glob.push('.');
        }
        if token == "*" || token == ">" {
            glob.push('*');
        } else {
            glob.push_str(&literal(token));
        }
    }
    glob
}

/// A topic as text: `node:<id>`, `user:<id>` or `group:<name>` (the topics deliveries are
/// published to).
fn topic_key(topic: &Topic) -> String {
    match topic {
        Topic::Node(node) => format!("node:{node}"),
        Topic::User(user) => format!("user:{user}"),
        Topic::Group(group) => format!("group:{group}"),
        Topic::Pattern(pattern) => format!("pattern:{pattern}"),
        Topic::Presence(group) => format!("presence:{group}"),
    }
}

fn parse_topic_key(key: &str) -> Option<Topic> {
    let (kind, id) = key.split_once(':')?;
    match kind {
        "node" => Some(Topic::Node(id.into())),
        "user" => Some(Topic::User(id.into())),
        "group" => Some(Topic::Group(id.into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipient::Recipient;

    #[test]
    fn topics_round_trip_through_their_text() {
        for topic in [
            Topic::Node("abc".into()),
            Topic::User("ada:lovelace".into()),
            Topic::Group("room 1".into()),
        ] {
            assert_eq!(parse_topic_key(&topic_key(&topic)), Some(topic));
        }
        assert_eq!(
            Names::new("beeflow", false).channel(&Topic::User("u".into())),
            "beeflow:user:u"
        );
        assert_eq!(parse_topic_key("planet:x"), None);
    }

    #[test]
    fn patterns_subscribe_to_a_glob_of_their_literal_tokens() {
        let names = Names::new("bf", false);
        let pattern = |p: &str| names.channel(&Topic::Pattern(p.into()));
        assert_eq!(pattern("orders.*"), "bf:group:orders.*");
        assert_eq!(pattern("orders.>"), "bf:group:orders.*");
        assert_eq!(pattern("*.eu"), "bf:group:*.eu");
        assert_eq!(pattern("a?[b].*"), r"bf:group:a\?\[b\].*");
        assert_eq!(
            Names::new("b*f", false).channel(&Topic::Pattern("x.*".into())),
            r"b\*f:group:x.*",
            "the prefix matches itself only"
        );
        assert_eq!(
            names.channel(&Topic::Presence("lobby".into())),
            "bf:presence:lobby"
        );
    }

    #[test]
    fn in_a_cluster_a_stream_channel_and_its_keys_share_a_hash_tag() {
        let names = Names::new("bf", true);
        let group = Topic::Group("room}1".into());
        assert_eq!(names.channel(&group), "{bf:group:room}1}");
        assert_eq!(names.stream_base("group:room}1"), "{bf:group:room}1}");
        assert_eq!(
            names.channel(&Topic::Presence("lobby".into())),
            "{bf}:presence:lobby",
            "presence on one shard"
        );
        assert_eq!(
            names.channel(&Topic::Pattern("room.*".into())),
            "bf:group:room.*",
            "patterns listen to the classic feed"
        );
        assert_eq!(names.pattern_feed("room.1"), "bf:group:room.1");
    }

    #[test]
    fn the_wire_form_round_trips_and_expires() {
        let frame = Arc::new(EventFrame::new(
            None,
            "e",
            &Recipient::user("u\"1"),
            r#"{"a":"b\\"}"#,
            true,
        ));
        let delivery = RemoteDelivery {
            id: uuid::Uuid::new_v4(),
            parts: vec![
                RemotePart {
                    topic: Topic::Node("n".into()),
                    connections: vec![ConnectionId::new("n.1")],
                    frame: frame.clone(),
                },
                RemotePart {
                    topic: Topic::Group("room: 1".into()),
                    connections: Vec::new(),
                    frame,
                },
            ],
            except: Some(ConnectionId::new("m.7")),
            origin: "m".into(),
        };
        let bytes =
            serde_json::to_vec(&Wire::new(&delivery, &[], Duration::from_secs(60))).unwrap();
        let back: Wire<'_> = serde_json::from_slice(&bytes).unwrap();
        assert!(!back.expired());
        assert_eq!(back.into_delivery().unwrap(), delivery);
        let mut stale: Wire<'_> = serde_json::from_slice(&bytes).unwrap();
        stale.expires_at_ms = unix_ms() - 1;
        assert!(stale.expired());
    }
}
