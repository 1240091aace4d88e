//! The hub: this node's live connections and the one outbound path into each of them.
//!
//! Every frame a connection receives — replies, pushes, problems — enters its bounded queue
//! here. The per-connection `seq` is assigned when a frame leaves the queue
//! ([`Outbound::recv`](crate::Outbound::recv)), the single point all events pass, so it is
//! gap-free by construction.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::outbound::{Mailbox, Outbound, Outgoing, Push};
use crate::recipient::{ConnectionId, Recipient};

/// What one delivery reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Connections the event was queued for.
    pub delivered: usize,
    /// Resolved connections that are not connected (any more).
    pub not_connected: usize,
    /// Connections whose queue was full; the event did not reach them.
    pub dropped: usize,
}

/// An event serialized once for every recipient; only `msg_id` and `seq` are added per
/// connection.
#[derive(Debug)]
pub(crate) struct EventFrame {
    /// `"req_id":"..",` (or nothing), then `"event":..` up to the closing brace.
    text: Box<str>,
    /// Where `"seq":N,` goes: after the optional `req_id` member.
    seq_at: usize,
}

impl EventFrame {
    pub(crate) fn new(
        req_id: Option<Uuid>,
        event: &str,
        recipient: &Recipient,
        payload: &str,
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
        }
    }

    pub(crate) fn render(&self, seq: u64) -> String {
        let mut out = String::with_capacity(self.text.len() + 72);
        out.push_str("{\"msg_id\":\"");
        let mut buf = Uuid::encode_buffer();
        out.push_str(Uuid::new_v4().hyphenated().encode_lower(&mut buf));
        out.push_str("\",");
        out.push_str(&self.text[..self.seq_at]);
        let _ = write!(out, "\"seq\":{seq},");
        out.push_str(&self.text[self.seq_at..]);
        out
    }
}

fn push_json_str(out: &mut String, s: &str) {
    // Serializing a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).expect("string serialization is infallible"));
}

/// This node's live connections.
pub(crate) struct Hub {
    node_id: Box<str>,
    next_connection: AtomicU64,
    connections: RwLock<HashMap<ConnectionId, Arc<Mailbox>>>,
}

impl Hub {
    pub(crate) fn new() -> Self {
        let node = Uuid::new_v4().simple().to_string();
        Self {
            node_id: node[..12].into(),
            next_connection: AtomicU64::new(1),
            connections: RwLock::default(),
        }
    }

    /// Registers a new connection with an outbound queue of `capacity` frames.
    pub(crate) fn connect(&self, capacity: usize) -> (ConnectionId, Arc<Mailbox>, Outbound) {
        let n = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let id = ConnectionId::new(format!("{}.{n}", self.node_id));
        let mailbox = Arc::new(Mailbox::new(capacity));
        self.write().insert(id.clone(), mailbox.clone());
        let outbound = Outbound::new(mailbox.clone());
        (id, mailbox, outbound)
    }

    pub(crate) fn disconnect(&self, id: &ConnectionId) {
        if let Some(mailbox) = self.write().remove(id) {
            mailbox.close();
        }
    }

    /// How many connections this node holds.
    pub(crate) fn len(&self) -> usize {
        self.connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Queues one serialized event for each local connection in `ids`.
    pub(crate) fn deliver(&self, ids: &[ConnectionId], frame: &Arc<EventFrame>) -> DeliveryReport {
        let connections = self.connections.read().unwrap_or_else(|e| e.into_inner());
        let mut report = DeliveryReport::default();
        for id in ids {
            let pushed = match connections.get(id) {
                Some(mailbox) => mailbox.push(Outgoing::Event(frame.clone())),
                None => Push::Closed,
            };
            match pushed {
                Push::Queued => report.delivered += 1,
                Push::Full => report.dropped += 1,
                Push::Closed => report.not_connected += 1,
            }
        }
        report
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ConnectionId, Arc<Mailbox>>> {
        // A panic while holding the lock cannot leave the map half-updated (each operation
        // is one insert or remove), so a poisoned lock is still usable.
        self.connections.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{CloseReason, OutFrame};

    #[test]
    fn event_frame_members_in_protocol_order() {
        let req_id = Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fc964ff").unwrap();
        let frame = EventFrame::new(
            Some(req_id),
            "health",
            &Recipient::new("websocket", "n.1"),
            r#"{"status":"ok"}"#,
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
        let frame = EventFrame::new(None, "tick", &Recipient::new("group", "all"), "{}");
        let value: serde_json::Value = serde_json::from_str(&frame.render(1)).unwrap();
        assert!(value.get("req_id").is_none());
        assert_eq!(value["recipient"], "group");
    }

    #[test]
    fn names_with_quotes_are_escaped() {
        let frame = EventFrame::new(None, "e", &Recipient::new("user", "a\"b"), "{}");
        let value: serde_json::Value = serde_json::from_str(&frame.render(1)).unwrap();
        assert_eq!(value["recipient_id"], "a\"b");
    }

    #[test]
    fn seq_counts_events_only_and_overflow_closes() {
        let hub = Hub::new();
        let (id, mailbox, mut outbound) = hub.connect(2);
        let frame = Arc::new(EventFrame::new(
            None,
            "e",
            &Recipient::connection(&id),
            "{}",
        ));
        assert_eq!(hub.deliver(std::slice::from_ref(&id), &frame).delivered, 1);
        assert!(matches!(
            mailbox.push(Outgoing::Text("problem".into())),
            Push::Queued
        ));
        let seq = |f: Option<OutFrame>| match f {
            Some(OutFrame::Text(t)) => serde_json::from_str::<serde_json::Value>(&t)
                .map(|v| v["seq"].as_u64())
                .unwrap_or(None),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(seq(outbound.try_recv()), Some(1));
        assert_eq!(outbound.try_recv(), Some(OutFrame::Text("problem".into())));
        // Fill the queue past its capacity: the third push overflows.
        for _ in 0..2 {
            assert_eq!(hub.deliver(std::slice::from_ref(&id), &frame).delivered, 1);
        }
        assert_eq!(hub.deliver(std::slice::from_ref(&id), &frame).dropped, 1);
        assert_eq!(
            outbound.try_recv(),
            Some(OutFrame::Close(CloseReason::SLOW_CONSUMER))
        );
        assert_eq!(outbound.try_recv(), None, "nothing follows the close");
    }

    #[test]
    fn unknown_and_disconnected_connections_are_reported() {
        let hub = Hub::new();
        let (id, _mailbox, _outbound) = hub.connect(4);
        let frame = Arc::new(EventFrame::new(
            None,
            "e",
            &Recipient::connection(&id),
            "{}",
        ));
        hub.disconnect(&id);
        let report = hub.deliver(&[id, ConnectionId::new("elsewhere.1")], &frame);
        assert_eq!(report.not_connected, 2);
        assert_eq!(hub.len(), 0);
    }
}
