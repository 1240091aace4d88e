//! MessagePack frames (feature `msgpack`, subprotocol `beeflow.v2.msgpack`,
//! `docs/protocol.md` §6.7): the same frames as version 2's JSON, as MessagePack maps in
//! binary messages.
//!
//! Inbound frames are transcoded to JSON text and then read like any other, so every rule
//! of the envelope holds unchanged. Outbound events keep their members that every
//! connection shares encoded once (beside the JSON text, made on first use); Problems and
//! completions, which go to one connection, are transcoded as they leave.

use serde_json::ser::CompactFormatter;

use super::MAX_NESTING_DEPTH;

/// The members of an event that every connection shares (all but `msg_id`, `seq` and the
/// stream position), as MessagePack map entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedEntries {
    pub(crate) count: u32,
    pub(crate) bytes: Box<[u8]>,
}

/// Why a binary frame is not a MessagePack envelope.
#[derive(Debug)]
pub(crate) struct NotMessagePack;

/// The JSON text of a MessagePack frame: one value, nothing after it, nested at most
/// [`MAX_NESTING_DEPTH`] levels like a JSON frame. Binary strings become arrays of numbers
/// and extension values `[type, [bytes]]`, as serde reads them.
pub(crate) fn to_json(bytes: &[u8]) -> Result<String, NotMessagePack> {
    let mut input = std::io::Cursor::new(bytes);
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 4 + 16);
    {
        let mut decoder = rmp_serde::Deserializer::new(&mut input);
        // rmp-serde counts the level that reaches its limit as too deep.
        decoder.set_max_depth(MAX_NESTING_DEPTH + 1);
        // Transcoding recurses once per level: grow the stack instead of overflowing it.
        let decoder = serde_stacker::Deserializer::new(&mut decoder);
        let mut encoder = serde_json::Serializer::with_formatter(&mut out, CompactFormatter);
        serde_transcode::transcode(decoder, &mut encoder).map_err(|_| NotMessagePack)?;
    }
    if input.position() != bytes.len() as u64 {
        return Err(NotMessagePack);
    }
    String::from_utf8(out).map_err(|_| NotMessagePack)
}

/// The MessagePack encoding of JSON `text` the server produced (a Problem, a completion,
/// an event's shared members).
pub(crate) fn from_json(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut decoder = serde_json::Deserializer::from_str(text);
    decoder.disable_recursion_limit();
    let decoder = serde_stacker::Deserializer::new(&mut decoder);
    let mut encoder = rmp_serde::Serializer::new(&mut out);
    serde_transcode::transcode(decoder, &mut encoder)
        .expect("the server's own JSON transcodes to MessagePack");
    out
}

/// The shared members of an event whose JSON members (without braces) are `members`.
pub(crate) fn shared_entries(members: &str) -> SharedEntries {
    let mut object = String::with_capacity(members.len() + 2);
    object.push('{');
    object.push_str(members);
    object.push('}');
    let map = from_json(&object);
    let mut rest = &map[..];
    let count = rmp::decode::read_map_len(&mut rest).expect("a JSON object encodes as a map");
    SharedEntries {
        count,
        bytes: rest.into(),
    }
}

/// Writes a whole event: `msg_id`, the shared members, `seq`, and the stream position if
/// any.
pub(crate) fn render_event(
    msg_id: &str,
    shared: &SharedEntries,
    seq: u64,
    position: Option<(u64, &str)>,
) -> Vec<u8> {
    let extra = if position.is_some() { 4 } else { 2 };
    let mut out = Vec::with_capacity(shared.bytes.len() + 96);
    // Writing to a Vec cannot fail.
    let _ = rmp::encode::write_map_len(&mut out, shared.count + extra);
    let _ = rmp::encode::write_str(&mut out, "msg_id");
    let _ = rmp::encode::write_str(&mut out, msg_id);
    out.extend_from_slice(&shared.bytes);
    let _ = rmp::encode::write_str(&mut out, "seq");
    let _ = rmp::encode::write_uint(&mut out, seq);
    if let Some((offset, epoch)) = position {
        let _ = rmp::encode::write_str(&mut out, "offset");
        let _ = rmp::encode::write_uint(&mut out, offset);
        let _ = rmp::encode::write_str(&mut out, "epoch");
        let _ = rmp::encode::write_str(&mut out, epoch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_messagepack_round_trip() {
        let text = r#"{"msg_id":"a","n":-3,"f":1.5,"big":18446744073709551615,"t":true,"z":null,"l":[1,"x",{}]}"#;
        let packed = from_json(text);
        assert_eq!(to_json(&packed).unwrap(), text);
    }

    #[test]
    fn trailing_bytes_and_truncation_are_refused() {
        let mut packed = from_json(r#"{"a":1}"#);
        packed.push(0xc0);
        assert!(to_json(&packed).is_err());
        assert!(to_json(&from_json(r#"{"a":"long enough"}"#)[..5]).is_err());
        // fixext 1: type 1, one byte.
        assert_eq!(to_json(&[0xd4, 0x01, 0x07]).unwrap(), "[1,[7]]");
        assert!(to_json(&[]).is_err());
    }

    #[test]
    fn deep_nesting_is_bounded_not_a_stack_overflow() {
        let deep = |levels: usize| {
            let mut bytes = vec![0x91; levels - 1]; // fixarray of one element
            bytes.push(0x90); // an empty fixarray
            bytes
        };
        assert!(to_json(&deep(MAX_NESTING_DEPTH)).is_ok());
        assert!(to_json(&deep(MAX_NESTING_DEPTH + 1)).is_err());
        assert!(to_json(&deep(100_000)).is_err());
    }

    #[test]
    fn an_event_is_its_shared_entries_and_the_connection_s_own() {
        let shared = shared_entries(
            r#""event":"e","recipient":"group","recipient_id":"g","payload":{"k":[1]}"#,
        );
        assert_eq!(shared.count, 4);
        let frame = render_event("id", &shared, 7, Some((42, "ep")));
        let value: serde_json::Value = serde_json::from_str(&to_json(&frame).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"msg_id": "id", "event": "e", "recipient": "group", "recipient_id": "g", "payload": {"k": [1]}, "seq": 7, "offset": 42, "epoch": "ep"})
        );
    }
}
