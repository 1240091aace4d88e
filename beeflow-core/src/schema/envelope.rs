//! The schemas of the three envelopes (`docs/protocol.md` §1–§3): member names, which are required,
//! and the exact string forms.
//!
//! They use only keywords that mean the same in JSON Schema draft 07 (AsyncAPI's schema
//! format) and 2020-12 (the bundle), so both documents share them.

use serde_json::{Value, json};

/// Every UUID spelling the server accepts from clients (`docs/protocol.md` §5): hyphenated, 32 hex
/// digits, hyphenated in braces, or `urn:uuid:` (lower case) + hyphenated; hex of either
/// case, any version.
pub(crate) const CLIENT_UUID_PATTERN: &str = "^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32}|\\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\}|urn:uuid:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$";

/// How the server writes a request's `req_id`: lower-case and hyphenated.
pub(crate) const SERVER_UUID_PATTERN: &str =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// A server `msg_id`: a lower-case hyphenated UUID v4.
pub(crate) const SERVER_MSG_ID_PATTERN: &str =
    "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

/// At least one character that is not whitespace as the server trims it (Unicode
/// White_Space plus U+001C..U+001F, Python's `str.isspace`).
pub(crate) const ACTION_NAME_PATTERN: &str = "[^\\t\\n\\u000b\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

fn client_uuid(what: &str) -> Value {
    json!({
        "type": "string",
        "pattern": CLIENT_UUID_PATTERN,
        "description": format!(
            "{what} A UUID: hyphenated, 32 hex digits, hyphenated in braces, or `urn:uuid:` \
             followed by the hyphenated form; hex digits of either case, any version."
        ),
    })
}

fn server_msg_id() -> Value {
    json!({
        "type": "string",
        "format": "uuid",
        "pattern": SERVER_MSG_ID_PATTERN,
        "description": "A fresh UUID v4 for every message the server sends.",
    })
}

fn server_req_id(description: &str) -> Value {
    json!({
        "type": "string",
        "format": "uuid",
        "pattern": SERVER_UUID_PATTERN,
        "description": description,
    })
}

/// A client's action envelope; `action` and `payload` are the schemas of those members.
pub(crate) fn action(action: Value, payload: Value) -> Value {
    json!({
        "type": "object",
        "description": "An action envelope, sent by the client. Members other than these four \
                        are ignored.",
        "properties": {
            "msg_id": client_uuid("Identifies this one client message."),
            "req_id": client_uuid(
                "Correlates this request with every event and problem it produces."
            ),
            "action": action,
            "payload": payload,
        },
        "required": ["msg_id", "req_id", "action", "payload"],
    })
}

/// The `action` member of the generic action envelope.
pub(crate) fn any_action_name() -> Value {
    json!({
        "type": "string",
        "pattern": ACTION_NAME_PATTERN,
        "description": "The action name. Leading and trailing whitespace is removed first; \
                        empty after trimming is invalid. Case-sensitive.",
    })
}

/// An event envelope; `event` and `payload` are the schemas of those members, `recipients`
/// the registered recipient types (listed as examples: a newer server may add more).
pub(crate) fn event(event: Value, payload: Value, recipients: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": "An event envelope, sent by the server.",
        "properties": {
            "msg_id": server_msg_id(),
            "req_id": server_req_id(
                "The `req_id` of the request that produced this event, lower-case and \
                 hyphenated. Absent when the event was pushed from outside a request.",
            ),
            "seq": {
                "type": "integer",
                "minimum": 1,
                "description": "1, 2, 3, ... per receiving connection, counting events only. \
                                A gap means events were lost.",
            },
            "event": event,
            "recipient": {
                "type": "string",
                "description": "The type of the logical recipient the event was addressed to.",
                "examples": recipients,
            },
            "recipient_id": {
                "type": "string",
                "description": "The id of the logical recipient: a connection id, a user id, \
                                a group name, ...",
            },
            "payload": payload,
        },
        "required": ["msg_id", "seq", "event", "recipient", "recipient_id", "payload"],
    })
}

/// The `event` member of the generic event envelope.
pub(crate) fn any_event_name() -> Value {
    json!({"type": "string", "description": "The registered event name."})
}

/// The `payload` member of a generic envelope.
pub(crate) fn any_payload() -> Value {
    json!({"type": "object", "description": "A JSON object; its shape belongs to the action \
                                             or event."})
}

/// An RFC 9457 Problem Details message as the server sends it over the WebSocket.
pub(crate) fn problem() -> Value {
    json!({
        "type": "object",
        "description": "An RFC 9457 Problem Details message, sent by the server when a \
                        message or an action fails. It carries no `seq`.",
        "properties": {
            "msg_id": server_msg_id(),
            "req_id": server_req_id(
                "The `req_id` of the failing message, lower-case and hyphenated. Present \
                 whenever that message was a JSON object with a valid `req_id`.",
            ),
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": "`<base>/<slug>` when the server configured a problem base \
                                URL, else `about:blank`.",
            },
            "title": {"type": "string", "description": "A short summary of the problem type."},
            "status": {
                "type": "integer",
                "minimum": 400,
                "maximum": 599,
                "description": "The HTTP status code of the problem type.",
            },
            "detail": {
                "type": "string",
                "description": "A human-readable explanation of this occurrence.",
            },
            "code": {
                "type": "string",
                "description": "The stable machine-readable code, e.g. \
                                `unknown_websocket_action`.",
            },
            "instance": {
                "type": "string",
                "format": "uri-reference",
                "description": "The WebSocket request path, without the query string.",
            },
        },
        "required": ["msg_id", "type", "title", "status", "detail", "code", "instance"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required(schema: &Value) -> Vec<&str> {
        schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    #[test]
    fn envelopes_require_what_the_protocol_requires() {
        let action = action(any_action_name(), any_payload());
        assert_eq!(required(&action), ["msg_id", "req_id", "action", "payload"]);
        let event = event(any_event_name(), any_payload(), &["websocket"]);
        assert_eq!(
            required(&event),
            [
                "msg_id",
                "seq",
                "event",
                "recipient",
                "recipient_id",
                "payload"
            ]
        );
        assert!(
            event["properties"]["req_id"].is_object(),
            "optional, not absent"
        );
        let problem = problem();
        assert!(!required(&problem).contains(&"req_id"));
        assert!(!required(&problem).contains(&"seq"));
        assert!(problem["properties"].get("seq").is_none());
    }

    #[test]
    fn every_required_member_is_described() {
        for schema in [
            action(any_action_name(), any_payload()),
            event(any_event_name(), any_payload(), &[]),
            problem(),
        ] {
            for name in required(&schema) {
                assert!(schema["properties"][name].is_object(), "{name}");
            }
        }
    }
}
