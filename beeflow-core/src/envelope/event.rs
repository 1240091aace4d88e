//! The event envelope (server → client, `docs/protocol.md` §2), serialized once for every
//! connection it reaches.

use std::fmt::Write as _;

use uuid::Uuid;

use crate::recipient::Recipient;

/// An event envelope serialized once; only `msg_id` and `seq` are added per connection.
///
/// Brokers carry it between nodes with [`EventFrame::to_parts`] and
/// [`EventFrame::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFrame {
    /// `"req_id":"..",` (or nothing), then `"event":..` up to the closing brace.
    text: Box<str>,
    /// Where `"seq":N,` goes: after the optional `req_id` member.
    seq_at: usize,
    droppable: bool,
}

impl EventFrame {
    pub(crate) fn new(
        req_id: Option<Uuid>,
        event: &str,
        recipient: &Recipient,
        payload: &str,
        droppable: bool,
    ) -> Self {
        let mut text =
            String::with_capacity(96 + event.len() + recipient.id().len() + payload.len());
        if let Some(req_id) = req_id {
            let _ = write!(text, "\"req_id\":\"{}\",", req_id.hyphenated());
        }
        let seq_at = text.len();
        text.push_str("\"event\":");
        push_json_str(&mut text, event);
        text.push_str(",\"recipient\":");
        push_json_str(&mut text, recipient.kind());
        text.push_str(",\"recipient_id\":");
        push_json_str(&mut text, recipient.id());
        text.push_str(",\"payload\":");
        text.push_str(payload);
        text.push('}');
        Self {
            text: text.into_boxed_str(),
            seq_at,
            droppable,
        }
    }

    /// Rebuilds a frame from its [`EventFrame::to_parts`] (a broker carrying it between
    /// nodes). Returns `None` for parts no node produced.
    pub fn from_parts(text: &str, seq_at: usize, droppable: bool) -> Option<Self> {
        let well_formed = text.is_char_boundary(seq_at)
            && text[seq_at..].starts_with("\"event\":")
            && text.ends_with('}');
        well_formed.then(|| Self {
            text: text.into(),
            seq_at,
            droppable,
        })
    }

    /// The shared text, where `seq` goes in it, and whether the event may be dropped.
    pub fn to_parts(&self) -> (&str, usize, bool) {
        (&self.text, self.seq_at, self.droppable)
    }

    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn droppable(&self) -> bool {
        self.droppable
    }

    pub(crate) fn render(&self, seq: u64) -> String {
        let mut out = String::with_capacity(self.text.len() + 72);
        out.push_str("{\"msg_id\":\"");
        let mut buf = Uuid::encode_buffer();
        out.push_str(Uuid::new_v4().hyphenated().encode_lower(&mut buf));
        out.push_str("\",");
        out.push_str(&self.text[..self.seq_at]);
        // Runs once per receiving connection: itoa instead of the formatting machinery.
        out.push_str("\"seq\":");
        out.push_str(itoa::Buffer::new().format(seq));
        out.push(',');
        out.push_str(&self.text[self.seq_at..]);
        out
    }
}

fn push_json_str(out: &mut String, s: &str) {
    // Serializing a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).expect("string serialization is infallible"));
}

/// The completion frame that ends a version-2 request (`docs/protocol.md` §6.2):
/// `{"msg_id": ..., "req_id": ..., "done": {"events": n}}`. Like a Problem, it carries no
/// `seq`.
pub(crate) fn completion(req_id: Uuid, events: usize) -> String {
    let mut frame = String::with_capacity(128);
    let _ = write!(
        frame,
        r#"{{"msg_id":"{}","req_id":"{}","done":{{"events":{events}}}}}"#,
        Uuid::new_v4().hyphenated(),
        req_id.hyphenated()
    );
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_has_its_members_in_protocol_order() {
        let req_id = Uuid::parse_str("8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918").unwrap();
        let frame = completion(req_id, 2);
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
        let text = frame.render(7);
        let expected_tail = r#""req_id":"6f9619ff-8b86-d011-b42d-00c04fc964ff","seq":7,"event":"health","recipient":"websocket","recipient_id":"n.1","payload":{"status":"ok"}}"#;
        assert!(text.starts_with("{\"msg_id\":\""), "{text}");
        assert!(text.ends_with(expected_tail), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["seq"], 7);
    }

    #[test]
    fn pushed_event_has_no_req_id() {
        let frame = EventFrame::new(None, "tick", &Recipient::new("group", "all"), "{}", false);
        let value: serde_json::Value = serde_json::from_str(&frame.render(1)).unwrap();
        assert!(value.get("req_id").is_none());
        assert_eq!(value["recipient"], "group");
    }

    #[test]
    fn names_with_quotes_are_escaped() {
        let frame = EventFrame::new(None, "e", &Recipient::new("user", "a\"b"), "{}", false);
        let value: serde_json::Value = serde_json::from_str(&frame.render(1)).unwrap();
        assert_eq!(value["recipient_id"], "a\"b");
    }

    #[test]
    fn parts_round_trip_and_garbage_is_refused() {
        let frame = EventFrame::new(None, "e", &Recipient::new("user", "7"), "{}", true);
        let (text, seq_at, droppable) = frame.to_parts();
        assert_eq!(
            EventFrame::from_parts(text, seq_at, droppable),
            Some(frame.clone())
        );
        assert_eq!(EventFrame::from_parts("{}", 0, false), None);
        assert_eq!(EventFrame::from_parts(text, 500, false), None);
    }
}
