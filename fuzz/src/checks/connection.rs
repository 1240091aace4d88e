//! `connection`: a whole in-memory connection fed arbitrary frames (§2 and §3 of
//! `docs/protocol.md`).

use super::envelope::reported_req_id;
use super::*;

/// One inbound WebSocket frame cut out of a fuzz input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A text frame (only valid UTF-8 becomes one).
    Text(&'a str),
    /// A binary frame.
    Binary(&'a [u8]),
}

/// Splits a `connection` input into at most [`MAX_FRAMES`] frames.
///
/// Each frame is a header byte and a body. Header bit 7 set means binary,
/// clear means text. Bits 0..=6 are the body length, except `0x7f`, which
/// means the length follows as two bytes, little-endian. A length past the end
/// of the input takes what is left. A text body that is not UTF-8 is dropped,
/// as a transport would never hand it on (it closes with 1007 instead).
pub(crate) fn split_frames(mut data: &[u8]) -> Vec<Frame<'_>> {
    let mut frames = Vec::new();
    while let Some((&header, rest)) = data.split_first() {
        if frames.len() == MAX_FRAMES {
            break;
        }
        let (len, rest) = match header & 0x7f {
            0x7f => match rest {
                [lo, hi, rest @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), rest),
                _ => (rest.len(), rest),
            },
            len => (usize::from(len), rest),
        };
        let (body, rest) = rest.split_at(len.min(rest.len()));
        data = rest;
        if header & 0x80 != 0 {
            frames.push(Frame::Binary(body));
        } else if let Ok(text) = std::str::from_utf8(body) {
            frames.push(Frame::Text(text));
        }
    }
    frames
}

/// Encodes frames in the format [`split_frames`] reads; for writing seeds.
pub(crate) fn join_frames(frames: &[Frame<'_>]) -> Vec<u8> {
    let mut data = Vec::new();
    for frame in frames {
        let (kind, body) = match frame {
            Frame::Text(text) => (0x00, text.as_bytes()),
            Frame::Binary(bytes) => (0x80, *bytes),
        };
        if body.len() < 0x7f {
            data.push(kind | body.len() as u8);
        } else {
            let len = u16::try_from(body.len()).expect("a frame body fits 64 KiB");
            data.push(kind | 0x7f);
            data.extend_from_slice(&len.to_le_bytes());
        }
        data.extend_from_slice(body);
    }
    data
}

/// A JSON object's members in the order they were written.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;

        impl<'de> Visitor<'de> for Members {
            type Value = Ordered;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }

        deserializer.deserialize_map(Members)
    }
}

/// The reply one frame must get.
#[derive(Debug)]
enum Expected {
    /// The `health` event (§4.2) with this `req_id` and `seq`.
    Health { req_id: Uuid, seq: u64 },
    /// A problem with this code and detail, and this `req_id` when known.
    Problem {
        code: &'static str,
        detail: String,
        req_id: Option<Uuid>,
    },
}

/// What `text` must be answered with on a connection that registered only the
/// built-ins, `events` being the number of events that connection received so far.
fn expected_for_text(text: &str, events: u64) -> Expected {
    match parse_action(text) {
        Ok(envelope) if envelope.action == "health" => Expected::Health {
            req_id: envelope.req_id,
            seq: events + 1,
        },
        Ok(envelope) => {
            let action = &*envelope.action;
            let shown = match action.char_indices().nth(ECHO_LIMIT) {
                Some((at, _)) => format!("{}…", &action[..at]),
                None => action.to_owned(),
            };
            Expected::Problem {
                code: "unknown_websocket_action",
                detail: format!("No WebSocket action is registered under '{shown}'."),
                req_id: Some(envelope.req_id),
            }
        }
        Err(invalid) => Expected::Problem {
            code: "invalid_websocket_message",
            detail: INVALID_MESSAGE_DETAIL.to_owned(),
            req_id: invalid.req_id,
        },
    }
}

/// What a binary frame must be answered with: always `invalid_websocket_message`,
/// with the `req_id` a text frame of the same bytes would report (§1.4).
fn expected_for_binary(bytes: &[u8]) -> Expected {
    let req_id = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| reported_req_id(&parse_action(text)));
    Expected::Problem {
        code: "invalid_websocket_message",
        detail: INVALID_MESSAGE_DETAIL.to_owned(),
        req_id,
    }
}

/// Checks one reply against what was expected (§2, §3): its members, their
/// values and, when `ordered` (the reply's raw text was seen), their order.
fn check_reply(
    members: &[(String, Value)],
    ordered: bool,
    expected: &Expected,
    connection_id: &str,
    frame: &Frame<'_>,
) {
    let mut names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    let get = |name: &str| {
        members
            .iter()
            .find(|(member, _)| member == name)
            .map(|(_, value)| value)
    };
    let msg_id = get("msg_id")
        .and_then(Value::as_str)
        .and_then(|id| Uuid::try_parse(id).ok());
    assert!(
        msg_id.is_some_and(|id| id.get_version_num() == 4),
        "reply to {frame:?} has no v4 msg_id: {members:?}"
    );
    let req_id = get("req_id").map(|id| id.as_str().expect("req_id is a string"));

    let (mut expected_names, want_req_id) = match expected {
        Expected::Health { req_id, .. } => (
            vec![
                "msg_id",
                "req_id",
                "seq",
                "event",
                "recipient",
                "recipient_id",
                "payload",
            ],
            Some(req_id),
        ),
        Expected::Problem { req_id, .. } => {
            let mut names = vec!["msg_id"];
            if req_id.is_some() {
                names.push("req_id");
            }
            names.extend(["type", "title", "status", "detail", "code", "instance"]);
            (names, req_id.as_ref())
        }
    };
    if !ordered {
        names.sort_unstable();
        expected_names.sort_unstable();
    }
    assert_eq!(
        names, expected_names,
        "reply members for {frame:?}: {members:?}"
    );
    let want_req_id = want_req_id.map(|id| id.hyphenated().to_string());
    assert_eq!(
        req_id,
        want_req_id.as_deref(),
        "req_id for {frame:?}: {members:?}"
    );

    match expected {
        Expected::Health { seq, .. } => {
            assert_eq!(get("seq"), Some(&json!(seq)), "seq for {frame:?}");
            assert_eq!(get("event"), Some(&json!("health")));
            assert_eq!(get("recipient"), Some(&json!("websocket")));
            assert_eq!(get("recipient_id"), Some(&json!(connection_id)));
            assert_eq!(get("payload"), Some(&json!({"status": "ok"})));
        }
        Expected::Problem { code, detail, .. } => {
            assert_eq!(get("code"), Some(&json!(code)), "code for {frame:?}");
            assert_eq!(get("detail"), Some(&json!(detail)), "detail for {frame:?}");
            assert_eq!(get("status"), Some(&json!(400)));
            assert_eq!(get("type"), Some(&json!("about:blank")));
            assert_eq!(get("instance"), Some(&json!(TEST_PATH)));
        }
    }
}

/// Builds the dispatcher the `connection` checks run against: only the built-ins
/// (action `health`), no rate limits, everything else at its defaults.
pub(crate) fn connection_dispatcher() -> Dispatcher {
    Dispatcher::builder()
        .registry(
            beeflow_core::Registry::builder()
                .build()
                .expect("built-ins only"),
        )
        .rate_limits(beeflow_core::RateLimits::off())
        .build()
        .expect("default limits are valid")
}

/// A current-thread runtime to drive a connection's futures on.
pub(crate) fn connection_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds")
}

/// Checks a whole connection fed `data` split with [`split_frames`]: every frame
/// gets exactly one reply, a text frame holding the JSON event or problem the
/// protocol prescribes for it, and nothing panics.
pub(crate) fn check_connection(
    runtime: &tokio::runtime::Runtime,
    dispatcher: &Dispatcher,
    data: &[u8],
) {
    let mut client = TestClient::connect(dispatcher);
    let connection_id = client.connection_id().as_str().to_owned();
    let mut events = 0;
    for frame in split_frames(data) {
        match frame {
            Frame::Text(text) => {
                runtime.block_on(client.handle_text(text));
                let expected = expected_for_text(text, events);
                let mut replies = Vec::new();
                while let Some(reply) = client.try_recv_frame() {
                    replies.push(reply);
                }
                let [Outgoing::Text(reply)] = replies.as_slice() else {
                    panic!("{frame:?} got {replies:?} instead of one text frame");
                };
                let Ordered(members) = serde_json::from_str(reply).unwrap_or_else(|err| {
                    panic!("reply to {frame:?} is not a JSON object ({err}): {reply}")
                });
                check_reply(&members, true, &expected, &connection_id, &frame);
                if matches!(expected, Expected::Health { .. }) {
                    events += 1;
                }
            }
            Frame::Binary(bytes) => {
                // There is no raw-frame variant of send_binary: its replies come back as
                // `Value`s (the drain panics on a reply that is not JSON), so the order
                // of the members is not checked here.
                let replies = runtime.block_on(client.send_binary(bytes));
                let [Value::Object(reply)] = replies.as_slice() else {
                    panic!("{frame:?} got {replies:?} instead of one JSON object");
                };
                let members: Vec<(String, Value)> = reply.clone().into_iter().collect();
                let expected = expected_for_binary(bytes);
                check_reply(&members, false, &expected, &connection_id, &frame);
            }
        }
    }
    assert!(client.try_recv_frame().is_none(), "a frame arrived unasked");
}
