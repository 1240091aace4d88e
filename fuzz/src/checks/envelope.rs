//! `envelope`: `parse_action` and `trim_action` against §1 of `docs/protocol.md`.

use super::*;

/// The `req_id` a frame's problem reply must carry, whatever else is wrong with it.
pub(super) fn reported_req_id(
    parsed: &Result<beeflow_core::envelope::ActionEnvelope<'_>, InvalidMessage>,
) -> Option<Uuid> {
    match parsed {
        Ok(envelope) => Some(envelope.req_id),
        Err(invalid) => invalid.req_id,
    }
}

/// JSON whitespace, for Python and `serde_json` alike.
const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];

/// The most arrays and objects a frame may have open at once (§1.2). Written out rather
/// than taken from `beeflow_core::envelope::MAX_NESTING_DEPTH`, so changing that constant
/// is caught as the protocol change it is.
const MAX_NESTING_DEPTH: usize = 1024;

/// Python's `str.strip()` set, as `docs/protocol.md` §1.3 lists it; a reference for
/// `beeflow_core::envelope::trim_action`.
fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// An action name trimmed as §1.3 says.
fn trim_action(name: &str) -> &str {
    name.trim_matches(is_python_space)
}

/// A valid `req_id` to probe the scanner with.
const PROBE_REQ_ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

/// Whether `serde_json` accepts `text` as one JSON value when it only skips it: that is
/// iterative with no depth limit, and neither converts numbers nor decodes escapes, so it
/// accepts huge numbers and lone surrogate escapes as Python does. It differs from
/// Python's `json.loads` only in refusing `NaN`, `Infinity` and `-Infinity`.
fn skips_as_json(text: &str) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    IgnoredAny::deserialize(&mut de)
        .and_then(|_| de.end())
        .is_ok()
}

/// How many arrays and objects are open at most at once in JSON text.
fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Whether `parse_action`'s scanner accepts `object`, the text of a JSON object.
///
/// The public API only says so through the `req_id` it reports, so a valid `req_id` is
/// added as the object's last member (the last one wins, §1): the result reports it
/// exactly when the scanner accepted the text.
fn scanner_accepts(object: &str) -> bool {
    let Some(open) = object.trim_end_matches(JSON_WS).strip_suffix('}') else {
        return false;
    };
    let empty = open
        .trim_start_matches(JSON_WS)
        .strip_prefix('{')
        .is_some_and(|inner| inner.trim_start_matches(JSON_WS).is_empty());
    let separator = if empty { "" } else { "," };
    let probe = format!(r#"{open}{separator}"req_id":"{PROBE_REQ_ID}"}}"#);
    reported_req_id(&parse_action(&probe)).is_some()
}

/// Checks `parse_action` on one text frame.
///
/// - `trim_action` strips exactly the characters §1.3 lists.
/// - `parse_action` never panics and gives the same answer twice.
/// - On `Ok`: the action is non-empty and already trimmed; the payload is a
///   slice of the frame that starts with `{` and ends with `}`; writing the
///   parsed values back into a fresh envelope parses to the same values.
/// - When the frame was accepted as a JSON object (`Ok`, or `Err` that still
///   reports a `req_id`) and holds no `NaN`/`Infinity`, `serde_json` accepts
///   it too when skipping it (see [`skips_as_json`]).
/// - Conversely, when `serde_json` skips the frame as an object, the scanner
///   accepts it exactly when it is nested at most `MAX_NESTING_DEPTH` deep
///   (§1.2), as probed with [`scanner_accepts`].
/// - When `serde_json` decodes the frame into an object (it is stricter than
///   Python's `json.loads`: RFC 8259 only, at most 128 levels deep, numbers
///   that fit an `f64`, no lone surrogates), that object decides the result
///   exactly: the last `req_id`, `msg_id`, `action` and `payload` members by
///   the rules of §1 give the same `Ok` values or the same `Err` `req_id`.
pub(crate) fn check_envelope(text: &str) {
    // The public trimming function against §1.3, on the whole frame.
    assert_eq!(
        beeflow_core::envelope::trim_action(text),
        trim_action(text),
        "trim_action differs from Python's str.strip() on {text:?}"
    );

    let parsed = parse_action(text);
    assert_eq!(
        parsed,
        parse_action(text),
        "parse_action is not deterministic"
    );

    if let Ok(envelope) = &parsed {
        assert!(!envelope.action.is_empty(), "empty action accepted");
        assert_eq!(
            trim_action(&envelope.action),
            &*envelope.action,
            "action not trimmed"
        );
        let frame = text.as_bytes().as_ptr_range();
        let payload = envelope.payload.as_bytes().as_ptr_range();
        assert!(
            frame.start <= payload.start && payload.end <= frame.end,
            "payload is not a slice of the frame"
        );
        assert!(
            envelope.payload.starts_with('{') && envelope.payload.ends_with('}'),
            "payload is not an object's text: {:?}",
            envelope.payload
        );

        // Round trip: the parsed values, written back out, parse to themselves.
        let action = serde_json::to_string(&*envelope.action).expect("a str serializes");
        let rebuilt = format!(
            r#"{{"msg_id":"{}","req_id":"{}","action":{action},"payload":{}}}"#,
            envelope.msg_id, envelope.req_id, envelope.payload
        );
        let again = parse_action(&rebuilt)
            .unwrap_or_else(|invalid| panic!("rebuilt envelope refused ({invalid:?}): {rebuilt}"));
        assert_eq!(again.msg_id, envelope.msg_id, "msg_id changed: {rebuilt}");
        assert_eq!(again.req_id, envelope.req_id, "req_id changed: {rebuilt}");
        assert_eq!(again.action, envelope.action, "action changed: {rebuilt}");
        assert_eq!(
            again.payload, envelope.payload,
            "payload changed: {rebuilt}"
        );
    }

    // One leading BOM is ignored (§1.1); serde_json knows nothing of it.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let reported = reported_req_id(&parsed);
    let accepted_as_object = parsed.is_ok() || reported.is_some();
    let json_for_serde = skips_as_json(body);
    if accepted_as_object && !body.contains("NaN") && !body.contains("Infinity") {
        assert!(
            json_for_serde,
            "accepted frame is not JSON for serde_json: {body:?}"
        );
    }
    if json_for_serde && body.trim_start_matches(JSON_WS).starts_with('{') {
        let depth = nesting_depth(body);
        assert_eq!(
            scanner_accepts(body),
            depth <= MAX_NESTING_DEPTH,
            "serde_json accepts this object, nested {depth} deep: {body:?}"
        );
    }

    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) {
        let uuid_member = |name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .and_then(parse_uuid)
        };
        let req_id = uuid_member("req_id");
        let msg_id = uuid_member("msg_id");
        let action = object
            .get("action")
            .and_then(Value::as_str)
            .map(trim_action)
            .filter(|action| !action.is_empty());
        let payload = object.get("payload").filter(|payload| payload.is_object());

        assert_eq!(
            reported, req_id,
            "req_id differs from serde_json's: {body:?}"
        );
        match (&parsed, msg_id, action, payload) {
            (Ok(envelope), Some(msg_id), Some(action), Some(payload)) => {
                assert_eq!(envelope.msg_id, msg_id, "msg_id differs: {body:?}");
                assert_eq!(envelope.action, action, "action differs: {body:?}");
                let raw: Value =
                    serde_json::from_str(envelope.payload).expect("a member of a parsed object");
                assert_eq!(&raw, payload, "payload differs: {body:?}");
            }
            (Err(_), msg_id, action, payload)
                if req_id.is_none()
                    || msg_id.is_none()
                    || action.is_none()
                    || payload.is_none() => {}
            (parsed, ..) => panic!(
                "parse_action gave {parsed:?}, serde_json says msg_id {msg_id:?}, \
                 req_id {req_id:?}, action {action:?}, payload {payload:?}: {body:?}"
            ),
        }
    }
}
