//! The action envelope: the client → server message (`docs/protocol.md` §1).
//!
//! ```json
//! {"msg_id": "<uuid>", "req_id": "<uuid>", "action": "health", "payload": {}}
//! ```
//!
//! This module decides, byte-for-byte like the Python library
//! `beeflow-websocket` 0.3.0, whether a frame is a valid action and, when it is
//! not, whether a `req_id` can still be reported in the problem reply. The
//! Python library decodes the frame with `json.loads`, validates the members
//! with pydantic, and extracts `req_id` with a second model that has only that
//! field; the rules below follow from that:
//!
//! - The text must be JSON as `json.loads` accepts it (`NaN`, huge numbers and
//!   lone surrogate escapes included), nested at most [`MAX_NESTING_DEPTH`]
//!   levels, with an object at the top. A leading BOM is ignored.
//! - `msg_id` and `req_id` are strings holding a UUID ([`parse_uuid`]).
//! - `action` is a string that is valid Unicode and non-empty after
//!   [`trim_action`].
//! - `payload` is an object; it is handed on as raw text, undecoded.
//! - Unknown members are ignored; for duplicate names the last one wins.
//!
//! This runs on every frame, so it never builds a `serde_json::Value`: one
//! pass validates the text and collects the top-level members' raw text, and
//! only the four members above are decoded.

use std::borrow::Cow;

use ::uuid::Uuid;

mod event;
#[cfg(feature = "msgpack")]
pub(crate) mod msgpack;
mod scan;
mod trim;
mod uuid;

pub(crate) use self::event::completion;
pub use self::event::{EventFrame, FrameParts, Position};
pub use self::trim::trim_action;
pub use self::uuid::parse_uuid;

/// How a connection's frames are encoded: JSON text messages, or (feature `msgpack`)
/// MessagePack binary messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Encoding {
    #[default]
    Json,
    #[cfg(feature = "msgpack")]
    MessagePack,
}

/// The most arrays and objects that may be open at once in a frame, the
/// envelope object itself counting as one.
///
/// The protocol requires payloads nested 500 levels to be accepted; deeper
/// frames are invalid messages. The limit bounds the work spent on hostile
/// input, not the call stack: parsing here is not recursive.
pub const MAX_NESTING_DEPTH: usize = 1024;

/// A valid action envelope, borrowing from the frame's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionEnvelope<'a> {
    /// Identifies this one client message.
    pub msg_id: Uuid,
    /// Correlates this request with every event and problem it produces.
    pub req_id: Uuid,
    /// The action name, already trimmed with [`trim_action`] and never empty.
    /// Borrowed from the frame unless it contained escapes.
    pub action: Cow<'a, str>,
    /// The raw JSON text of the payload object exactly as it appears in the
    /// frame, starting with `{`; already validated as JSON.
    pub payload: &'a str,
}

/// A frame that is not a valid action envelope (`invalid_websocket_message`).
///
/// The message is the protocol's exact `detail` string for that problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "Message must contain valid UUID 'msg_id' and 'req_id', a non-empty 'action' string, \
     and an object 'payload'."
)]
pub struct InvalidMessage {
    /// The frame's `req_id`, when the frame is a JSON object whose (last)
    /// `req_id` member is a valid UUID string — even if everything else in it
    /// is invalid. The problem reply carries it so the client can correlate.
    pub req_id: Option<Uuid>,
}

/// Parses a text frame as an action envelope.
///
/// On failure the error still carries the frame's `req_id` whenever one can be
/// extracted (see [`InvalidMessage::req_id`]).
///
/// # Errors
///
/// [`InvalidMessage`] when the text is not JSON under Python's rules, is
/// nested deeper than [`MAX_NESTING_DEPTH`], is not an object, or any of the
/// four members is missing or invalid.
pub fn parse_action(text: &str) -> Result<ActionEnvelope<'_>, InvalidMessage> {
    let members = Members::scan(text).ok_or(InvalidMessage { req_id: None })?;
    // req_id is judged on its own first, exactly like the Python library's
    // separate req_id-only model, so it is reported whatever else is wrong.
    let req_id = members.req_id.and_then(decode_uuid);
    let invalid = InvalidMessage { req_id };
    let (Some(req_id), Some(msg_id), Some(action), Some(payload)) = (
        req_id,
        members.msg_id.and_then(decode_uuid),
        members.action.and_then(decode_action),
        members.payload.filter(|raw| raw.starts_with('{')),
    ) else {
        return Err(invalid);
    };
    Ok(ActionEnvelope {
        msg_id,
        req_id,
        action,
        payload,
    })
}

/// Judges a binary frame, which is never a valid action.
///
/// The problem reply still carries a `req_id` when the bytes are UTF-8 text
/// holding a JSON object with a valid `req_id`, under the same rules as
/// [`parse_action`].
#[must_use]
pub(crate) fn parse_binary(bytes: &[u8]) -> InvalidMessage {
    let req_id = std::str::from_utf8(bytes)
        .ok()
        .and_then(Members::scan)
        .and_then(|members| members.req_id)
        .and_then(decode_uuid);
    InvalidMessage { req_id }
}

/// The raw text of the envelope's four members; later duplicates overwrite
/// earlier ones, as in the Python `dict` that `json.loads` builds.
#[derive(Debug, Default)]
struct Members<'a> {
    msg_id: Option<&'a str>,
    req_id: Option<&'a str>,
    action: Option<&'a str>,
    payload: Option<&'a str>,
}

impl<'a> Members<'a> {
    /// Validates `text` and collects the four members, or `None` when the text
    /// is not a JSON object under the scanner's rules.
    fn scan(text: &'a str) -> Option<Self> {
        // A BOM is not JSON whitespace, but clients that prepend one mean no
        // harm; the protocol allows ignoring it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut members = Self::default();
        scan::scan_object(text, |key, value| {
            // A key written without escapes is its own name: compared as written first,
            // and only a key that is none of the four is decoded (it may be one, escaped).
            let slot = match members.slot(&key[1..key.len() - 1]) {
                Some(slot) => slot,
                None => match key_name(key) {
                    Some(Cow::Owned(name)) => match members.slot(&name) {
                        Some(slot) => slot,
                        None => return,
                    },
                    _ => return,
                },
            };
            *slot = Some(value);
        })
        .ok()?;
        Some(members)
    }

    /// Where the member called `name` goes, if it is one of the four.
    fn slot(&mut self, name: &str) -> Option<&mut Option<&'a str>> {
        match name {
            "msg_id" => Some(&mut self.msg_id),
            "req_id" => Some(&mut self.req_id),
            "action" => Some(&mut self.action),
            "payload" => Some(&mut self.payload),
            _ => None,
        }
    }
}

/// The name a raw key token (quotes included) stands for.
///
/// Python compares decoded keys, so `"\u0061ction"` is `action`. Keys that do
/// not decode (lone surrogates) are `None`: in Python they decode to strings
/// with surrogates, which equal none of the four names either.
fn key_name(raw: &str) -> Option<Cow<'_, str>> {
    let inner = &raw[1..raw.len() - 1];
    if scan::has_escapes(inner) {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// Decodes a raw JSON string value, borrowing when it has no escapes.
///
/// `None` when the value is not a string, or when it holds a lone surrogate
/// escape: pydantic refuses such strings, and `serde_json` rejects them too.
fn decode_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if scan::has_escapes(inner) {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        // The scanner already rejected raw control characters, so the text
        // between the quotes is the string's value as is.
        Some(Cow::Borrowed(inner))
    }
}

/// Decodes a `msg_id` / `req_id` value: a JSON string holding a UUID.
fn decode_uuid(raw: &str) -> Option<Uuid> {
    parse_uuid(&decode_string(raw)?)
}

/// Decodes an `action` value: a JSON string, trimmed, not empty.
fn decode_action(raw: &str) -> Option<Cow<'_, str>> {
    let action = match decode_string(raw)? {
        Cow::Borrowed(s) => Cow::Borrowed(trim_action(s)),
        Cow::Owned(s) => {
            let trimmed = trim_action(&s);
            if trimmed.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(trimmed.to_owned())
            }
        }
    };
    (!action.is_empty()).then_some(action)
}

#[cfg(test)]
mod tests;
