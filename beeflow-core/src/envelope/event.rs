//! The event envelope (server → client, `docs/protocol.md` §2), serialized once for every
//! connection it reaches.

use std::fmt::Write as _;
use std::sync::Arc;

use uuid::Uuid;

use super::scan::needs_escaping;
use crate::recipient::Recipient;

/// Where an event stands in its stream (`docs/protocol.md` §6.4): the stream (a user's or a
/// group's), the event's offset in it, and the stream's epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The stream: `user:<id>` or `group:<name>`.
    pub stream: Arc<str>,
    /// 1, 2, 3, … per stream, across every node.
    pub offset: u64,
    /// Changes whenever the stream's history was lost.
    pub epoch: Arc<str>,
}

/// An event envelope serialized once; only `msg_id` and `seq` are added per connection, and
/// for a version-2 connection the stream position.
///
/// Brokers carry it between nodes with [`EventFrame::to_parts`] and
/// [`EventFrame::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFrame {
    /// `"req_id":"..",` (or nothing), then `"event":..` up to the closing brace. A `String`
    /// rather than a `Box<str>`: shrinking it to fit would cost a reallocation per event.
    text: String,
    /// Where `"seq":N,` goes: after the optional `req_id` member.
    seq_at: usize,
    /// Where the position goes: before `,"payload":`.
    payload_at: usize,
    /// The emitted event's id: its `msg_id` on version-2 connections.
    id: Uuid,
    /// Whether the frame is for one connection only (a reply): then even version 1 gets
    /// `id` as its `msg_id`, since no other connection can get it.
    exclusive: bool,
    position: Option<Position>,
    /// `,"offset":N,"epoch":".."`, rendered once.
    position_text: Box<str>,
    droppable: bool,
    /// The members every MessagePack connection shares, encoded by the first one.
    #[cfg(feature = "msgpack")]
    msgpack: std::sync::OnceLock<super::msgpack::SharedEntries>,
}

/// An [`EventFrame`] taken apart for a wire ([`EventFrame::to_parts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameParts<'a> {
    /// The shared text.
    pub text: &'a str,
    /// Where `seq` goes in it.
    pub seq_at: usize,
    /// Where the position goes in it.
    pub payload_at: usize,
    /// The event's id.
    pub id: Uuid,
    /// Its stream position, if it has one.
    pub position: Option<Position>,
    /// Whether it may be dropped for a slow client.
    pub droppable: bool,
}

impl EventFrame {
    pub(crate) fn new(
        req_id: Option<Uuid>,
        event: &str,
        recipient: &Recipient,
        payload: &str,
        droppable: bool,
    ) -> Self {
        Self::to_recipient(
            req_id,
            event,
            (recipient.kind(), recipient.id()),
            payload,
            droppable,
        )
    }

    /// [`EventFrame::new`] for the recipient `(kind, id)`.
    pub(crate) fn to_recipient(
        req_id: Option<Uuid>,
        event: &str,
        (kind, id): (&str, &str),
        payload: &str,
        droppable: bool,
    ) -> Self {
        // Room for every member when no name needs escaping (the usual case), so the text
        // is written without growing.
        let mut text = String::with_capacity(
            REQ_ID_MEMBER_LEN + 56 + event.len() + kind.len() + id.len() + payload.len(),
        );
        if let Some(req_id) = req_id {
            text.push_str("\"req_id\":\"");
            text.push_str(req_id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
            text.push_str("\",");
        }
        let seq_at = text.len();
        text.push_str("\"event\":");
        push_json_str(&mut text, event);
        text.push_str(",\"recipient\":");
        push_json_str(&mut text, kind);
        text.push_str(",\"recipient_id\":");
        push_json_str(&mut text, id);
        let payload_at = text.len();
        text.push_str(",\"payload\":");
        text.push_str(payload);
        text.push('}');
        Self {
            text,
            seq_at,
            payload_at,
            id: Uuid::new_v4(),
            exclusive: false,
            position: None,
            position_text: Box::default(),
            droppable,
            #[cfg(feature = "msgpack")]
            msgpack: std::sync::OnceLock::new(),
        }
    }

    /// The same frame, for one connection only (a reply to its requester).
    pub(crate) fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// The same frame for the event `id` (one emit to several recipients is one event).
    pub(crate) fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    /// The same event at `position` in its stream.
    pub fn positioned(&self, position: Position) -> Self {
        let mut frame = self.clone();
        frame.set_position(position);
        frame
    }

    /// Puts this event at `position` in its stream (for a frame not shared yet, without a
    /// copy: `Arc::make_mut(&mut frame).set_position(..)`).
    pub fn set_position(&mut self, position: Position) {
        let mut position_text = String::with_capacity(48);
        let _ = write!(position_text, ",\"offset\":{},\"epoch\":", position.offset);
        push_json_str(&mut position_text, &position.epoch);
        self.position = Some(position);
        self.position_text = position_text.into_boxed_str();
    }

    /// Rebuilds a frame from its [`EventFrame::to_parts`] (a broker carrying it between
    /// nodes). Returns `None` for parts no node produced.
    pub fn from_parts(parts: FrameParts<'_>) -> Option<Self> {
        let FrameParts {
            text,
            seq_at,
            payload_at,
            id,
            position,
            droppable,
        } = parts;
        let well_formed = seq_at <= payload_at
            && text.is_char_boundary(seq_at)
            && text.is_char_boundary(payload_at)
            && text[seq_at..].starts_with("\"event\":")
            && text[payload_at..].starts_with(",\"payload\":")
            && text.ends_with('}');
        if !well_formed {
            return None;
        }
        let mut frame = Self {
            text: text.into(),
            seq_at,
            payload_at,
            id,
            exclusive: false,
            position: None,
            position_text: Box::default(),
            droppable,
            #[cfg(feature = "msgpack")]
            msgpack: std::sync::OnceLock::new(),
        };
        if let Some(position) = position {
            frame.set_position(position);
        }
        Some(frame)
    }

    /// The frame taken apart, for a broker to carry it to another node.
    pub fn to_parts(&self) -> FrameParts<'_> {
        FrameParts {
            text: &self.text,
            seq_at: self.seq_at,
            payload_at: self.payload_at,
            id: self.id,
            position: self.position.clone(),
            droppable: self.droppable,
        }
    }

    /// The emitted event's id (its `msg_id` in version 2).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Its position in its stream, once a broker gave it one.
    pub fn position(&self) -> Option<&Position> {
        self.position.as_ref()
    }

    pub(crate) fn len(&self) -> usize {
        self.text.len() + self.position_text.len()
    }

    pub(crate) fn droppable(&self) -> bool {
        self.droppable
    }

    /// The frame as a connection speaking `version` gets it, with its `seq`. Version 1
    /// gets a `msg_id` no other connection gets and no position, byte for byte as before
    /// version 2 existed; version 2 the event's id and its position.
    pub(crate) fn render(&self, seq: u64, version: u8) -> String {
        let mut digits = itoa::Buffer::new();
        let seq = digits.format(seq);
        let position = if version == 2 {
            self.position_text.len()
        } else {
            0
        };
        // Exactly the frame's length: a frame whose capacity is its length becomes the
        // codec's `Bytes` without another allocation.
        let len = RENDERED_LEN + self.text.len() + seq.len() + position;
        let mut out = String::with_capacity(len);
        out.push_str("{\"msg_id\":\"");
        // Version 1 gives each connection a fresh `msg_id`; for a frame only one connection
        // gets, the event's own id is as fresh, and a UUID less is made per reply.
        let id = if version == 2 || self.exclusive {
            self.id
        } else {
            Uuid::new_v4()
        };
        let mut buf = Uuid::encode_buffer();
        out.push_str(id.hyphenated().encode_lower(&mut buf));
        out.push_str("\",");
        out.push_str(&self.text[..self.seq_at]);
        // Runs once per receiving connection: itoa instead of the formatting machinery.
        out.push_str("\"seq\":");
        out.push_str(seq);
        out.push(',');
        if version == 2 {
            out.push_str(&self.text[self.seq_at..self.payload_at]);
            out.push_str(&self.position_text);
            out.push_str(&self.text[self.payload_at..]);
        } else {
            out.push_str(&self.text[self.seq_at..]);
        }
        debug_assert_eq!(out.len(), len);
        out
    }
}

#[cfg(feature = "msgpack")]
impl EventFrame {
    /// The frame as a `beeflow.v2.msgpack` connection gets it (version 2's members), with
    /// its `seq`. The members all connections share are encoded once, by the first.
    pub(crate) fn render_msgpack(&self, seq: u64) -> Vec<u8> {
        let shared = self
            .msgpack
            .get_or_init(|| super::msgpack::shared_entries(&self.text[..self.text.len() - 1]));
        let mut buf = Uuid::encode_buffer();
        let id = self.id.hyphenated().encode_lower(&mut buf);
        let position = self
            .position
            .as_ref()
            .map(|position| (position.offset, &*position.epoch));
        super::msgpack::render_event(id, shared, seq, position)
    }

    /// Whether the shared MessagePack members were encoded already (tests).
    #[cfg(test)]
    pub(crate) fn msgpack_encoded(&self) -> Option<*const u8> {
        self.msgpack.get().map(|shared| shared.bytes.as_ptr())
    }
}

/// `"req_id":"<36>",`
const REQ_ID_MEMBER_LEN: usize = 48;

/// What [`EventFrame::render`] adds besides the shared text and the `seq` digits:
/// `{"msg_id":"<36>",` and `"seq":` and `,`.
const RENDERED_LEN: usize = 11 + 36 + 2 + 6 + 1;

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    // Names rarely hold anything to escape: then the string goes in as it is.
    if !needs_escaping(s) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    // Serializing a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).expect("string serialization is infallible"));
}

/// The completion frame that ends a version-2 request (`docs/protocol.md` §6.2):
/// `{"msg_id": ..., "req_id": ..., "done": {"events": n}}`, with `"recovered": bool` after
/// `events` for a recovery. Like a Problem, it carries no `seq`.
pub(crate) fn completion(req_id: Uuid, events: usize, recovered: Option<bool>) -> String {
    let mut frame = String::with_capacity(128);
    let _ = write!(
        frame,
        r#"{{"msg_id":"{}","req_id":"{}","done":{{"events":{events}"#,
        Uuid::new_v4().hyphenated(),
        req_id.hyphenated()
    );
    if let Some(recovered) = recovered {
        let _ = write!(frame, r#","recovered":{recovered}"#);
    }
    frame.push_str("}}");
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "msgpack")]
    #[test]
    fn a_frame_is_encoded_in_messagepack_once_whatever_the_connections() {
        let frame = EventFrame::new(
            None,
            "message",
            &Recipient::group("lobby"),
            r#"{"text":"hi"}"#,
            false,
        );
        let _json = frame.render(1, 2);
        assert_eq!(
            frame.msgpack_encoded(),
            None,
            "JSON connections encode no MessagePack"
        );
        let first = frame.render_msgpack(1);
        let encoded = frame.msgpack_encoded().expect("encoded by the first");
        let second = frame.render_msgpack(2);
        assert_eq!(frame.msgpack_encoded(), Some(encoded), "encoded once");
        assert_ne!(first, second, "each connection gets its own seq");
        let decoded: serde_json::Value =
            serde_json::from_str(&super::super::msgpack::to_json(&second).unwrap()).unwrap();
        assert_eq!(decoded["seq"], 2);
        assert_eq!(decoded["payload"]["text"], "hi");
        assert_eq!(decoded["msg_id"], frame.id().to_string());
    }

    #[test]
    fn a_completion_has_its_members_in_protocol_order() {
        let req_id = Uuid::parse_str("8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918").unwrap();
        let frame = completion(req_id, 2, None);
        let (start, end) = frame.split_at(frame.find(r#","req_id""#).unwrap());
        let msg_id = start
            .strip_prefix(r#"{"msg_id":""#)
            .unwrap()
            .trim_end_matches('"');
        assert_eq!(Uuid::parse_str(msg_id).unwrap().get_version_num(), 4);
        assert_eq!(
            end,
            r#","req_id":"8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918","done":{"events":2}}"#
        );
        let recovery = completion(req_id, 0, Some(true));
        assert!(
            recovery.ends_with(r#""done":{"events":0,"recovered":true}}"#),
            "{recovery}"
        );
    }

    #[test]
    fn members_in_protocol_order() {
        let req_id = Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fc964ff").unwrap();
        let frame = EventFrame::new(
            Some(req_id),
            "health",
            &Recipient::new("websocket", "n.1"),
            r#"{"status":"ok"}"#,
            false,
        );
        let text = frame.render(7, 1);
        let expected_tail = r#""req_id":"6f9619ff-8b86-d011-b42d-00c04fc964ff","seq":7,"event":"health","recipient":"websocket","recipient_id":"n.1","payload":{"status":"ok"}}"#;
        assert!(text.starts_with("{\"msg_id\":\""), "{text}");
        assert!(text.ends_with(expected_tail), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["seq"], 7);
    }

    #[test]
    fn pushed_event_has_no_req_id() {
        let frame = EventFrame::new(None, "tick", &Recipient::new("group", "all"), "{}", false);
        let value: serde_json::Value = serde_json::from_str(&frame.render(1, 1)).unwrap();
        assert!(value.get("req_id").is_none());
        assert_eq!(value["recipient"], "group");
    }

    #[test]
    fn names_with_anything_to_escape_are_escaped_and_plain_ones_copied() {
        for id in ["plain-id.1", "back\\slash", "tab\there", "bell\u{7}", "é😀"] {
            let frame = EventFrame::new(None, "e", &Recipient::new("user", id), "{}", false);
            let value: serde_json::Value = serde_json::from_str(&frame.render(1, 1)).unwrap();
            assert_eq!(value["recipient_id"], id);
        }
    }

    #[test]
    fn names_with_quotes_are_escaped() {
        let frame = EventFrame::new(None, "e", &Recipient::new("user", "a\"b"), "{}", false);
        let value: serde_json::Value = serde_json::from_str(&frame.render(1, 1)).unwrap();
        assert_eq!(value["recipient_id"], "a\"b");
    }

    fn position() -> Position {
        Position {
            stream: "user:7".into(),
            offset: 42,
            epoch: "b3f1c2".into(),
        }
    }

    #[test]
    fn parts_round_trip_and_garbage_is_refused() {
        let frame = EventFrame::new(None, "e", &Recipient::new("user", "7"), "{}", true);
        let positioned = frame.positioned(position());
        for frame in [frame, positioned] {
            let parts = frame.to_parts();
            assert_eq!(EventFrame::from_parts(parts.clone()), Some(frame.clone()));
            let garbage = FrameParts {
                text: "{}",
                seq_at: 0,
                payload_at: 0,
                ..parts.clone()
            };
            assert_eq!(EventFrame::from_parts(garbage), None);
            let out_of_range = FrameParts {
                seq_at: 500,
                ..parts
            };
            assert_eq!(EventFrame::from_parts(out_of_range), None);
        }
    }

    #[test]
    fn every_version_1_connection_gets_its_own_msg_id() {
        let frame = EventFrame::new(None, "e", &Recipient::new("group", "g"), "{}", false);
        let msg_id = |text: String| {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            value["msg_id"].as_str().unwrap().to_owned()
        };
        let ids: std::collections::HashSet<String> =
            (1..=5).map(|seq| msg_id(frame.render(seq, 1))).collect();
        assert_eq!(ids.len(), 5, "{ids:?}");
        assert!(!ids.contains(&frame.id().to_string()), "nor the event's id");
        // A reply reaches one connection: its msg_id may be the event's own.
        let reply = frame.exclusive();
        assert_eq!(msg_id(reply.render(1, 1)), reply.id().to_string());
    }

    #[test]
    fn version_2_gets_the_event_id_and_the_position_and_version_1_neither() {
        let frame = EventFrame::new(None, "e", &Recipient::new("group", "g"), "{}", false)
            .positioned(position());
        let v2: serde_json::Value = serde_json::from_str(&frame.render(3, 2)).unwrap();
        assert_eq!(v2["msg_id"], frame.id().to_string());
        assert_eq!(
            (v2["offset"].as_u64(), v2["epoch"].as_str()),
            (Some(42), Some("b3f1c2"))
        );
        let text = frame.render(3, 2);
        assert!(
            text.contains(r#""recipient_id":"g","offset":42,"epoch":"b3f1c2","payload":{}"#),
            "{text}"
        );
        let v1 = frame.render(3, 1);
        assert!(
            !v1.contains("offset") && !v1.contains(&frame.id().to_string()),
            "{v1}"
        );
        assert!(v1.ends_with(
            r#""seq":3,"event":"e","recipient":"group","recipient_id":"g","payload":{}}"#
        ));
    }
}
