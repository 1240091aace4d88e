//! Envelope tests: which frames are actions, and which `req_id` an invalid
//! frame still reports.

use super::*;

const MSG: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
const REQ: &str = "c232ab00-9414-11ec-b3c8-9f6bdeced846";

fn req() -> Uuid {
    Uuid::parse_str(REQ).expect("valid")
}

fn msg() -> Uuid {
    Uuid::parse_str(MSG).expect("valid")
}

/// A frame with the given raw member values, in protocol order.
fn frame(msg_id: &str, req_id: &str, action: &str, payload: &str) -> String {
    format!(r#"{{"msg_id":{msg_id},"req_id":{req_id},"action":{action},"payload":{payload}}}"#)
}

/// A valid frame with `action` and `payload` given as raw JSON.
fn with(action: &str, payload: &str) -> String {
    frame(
        &format!("\"{MSG}\""),
        &format!("\"{REQ}\""),
        action,
        payload,
    )
}

/// Asserts `text` is invalid and reports `req_id` (or none).
fn assert_invalid(text: &str, req_id: Option<Uuid>) {
    assert_eq!(
        parse_action(text).map(|e| e.action.into_owned()),
        Err(InvalidMessage { req_id }),
        "{text:?}"
    );
}

/// Asserts the payload of a frame carrying `payload` is accepted verbatim.
fn assert_payload_accepted(payload: &str) {
    let text = with(r#""a""#, payload);
    let envelope = parse_action(&text).expect("valid envelope");
    assert_eq!(envelope.payload, payload);
}

#[test]
fn parses_a_valid_envelope() {
    let text = with(r#""health""#, r#"{"x": [1, {"y": null}]}"#);
    let envelope = parse_action(&text).expect("valid");
    assert_eq!(envelope.msg_id, msg());
    assert_eq!(envelope.req_id, req());
    assert_eq!(envelope.action, "health");
    assert!(matches!(envelope.action, Cow::Borrowed(_)));
    assert_eq!(envelope.payload, r#"{"x": [1, {"y": null}]}"#);
}

#[test]
fn member_order_and_unknown_members_do_not_matter() {
    let text = format!(
        r#"{{"payload":{{}},"extra":[1,2],"action":"a","req_id":"{REQ}","msg_id":"{MSG}","z":null}}"#
    );
    let envelope = parse_action(&text).expect("valid");
    assert_eq!((envelope.action.as_ref(), envelope.payload), ("a", "{}"));
}

#[test]
fn accepts_every_uuid_spelling_for_both_ids() {
    let simple = REQ.replace('-', "");
    for spelling in [
        REQ.to_owned(),
        REQ.to_uppercase(),
        simple,
        format!("{{{REQ}}}"),
        format!("urn:uuid:{REQ}"),
    ] {
        let quoted = format!("\"{spelling}\"");
        let text = frame(&quoted, &quoted, r#""a""#, "{}");
        let envelope = parse_action(&text).expect(&spelling);
        assert_eq!((envelope.msg_id, envelope.req_id), (req(), req()));
    }
}

#[test]
fn rejects_non_string_and_malformed_ids() {
    let bad = [
        "null",
        "1",
        "{}",
        "[]",
        "true",
        r#""""#,
        &format!("\" {REQ}\""),
        &format!("\"URN:UUID:{REQ}\""),
    ];
    for raw in bad {
        // Invalid req_id: nothing to report.
        assert_invalid(&frame(&format!("\"{MSG}\""), raw, r#""a""#, "{}"), None);
        // Invalid msg_id: the valid req_id is reported.
        assert_invalid(
            &frame(raw, &format!("\"{REQ}\""), r#""a""#, "{}"),
            Some(req()),
        );
    }
}

#[test]
fn ids_are_unescaped_before_parsing() {
    let escaped = format!("\"\\u0063{}\"", &REQ[1..]);
    let text = frame(&escaped, &escaped, r#""a""#, "{}");
    let envelope = parse_action(&text).expect("valid");
    assert_eq!(envelope.req_id, req());
}

#[test]
fn req_id_is_reported_when_other_members_are_invalid_or_missing() {
    let r = format!(r#""req_id":"{REQ}""#);
    for text in [
        format!("{{{r}}}"),
        format!(r#"{{{r},"msg_id":"nope","action":"a","payload":{{}}}}"#),
        format!(r#"{{"msg_id":"{MSG}",{r},"action":1,"payload":{{}}}}"#),
        format!(r#"{{"msg_id":"{MSG}",{r},"action":"a","payload":[]}}"#),
        format!(r#"{{"msg_id":"{MSG}",{r},"action":"a"}}"#),
        format!(r#"{{"msg_id":1,{r},"action":null,"payload":"x"}}"#),
    ] {
        assert_invalid(&text, Some(req()));
    }
}

#[test]
fn no_req_id_when_json_is_invalid_or_not_an_object() {
    let valid = with(r#""a""#, "{}");
    assert_invalid(&valid[..valid.len() - 1], None);
    assert_invalid(&format!("{valid}x"), None);
    assert_invalid(&format!("[{valid}]"), None);
    assert_invalid(&with(r#""a""#, "{,}"), None);
    assert_invalid(&with(r#""a""#, "[1,]"), None);
    assert_invalid(&format!(r#""{REQ}""#), None);
}

#[test]
fn duplicate_members_last_one_wins() {
    let text = format!(
        r#"{{"req_id":"{MSG}","msg_id":"{MSG}","req_id":"{REQ}","action":"a","action":"b","payload":[],"payload":{{}}}}"#
    );
    let envelope = parse_action(&text).expect("valid");
    assert_eq!((envelope.req_id, envelope.action.as_ref()), (req(), "b"));
    // A valid req_id overwritten by an invalid one is gone.
    assert_invalid(&format!(r#"{{"req_id":"{REQ}","req_id":5}}"#), None);
    // An invalid one overwritten by a valid one is reported.
    assert_invalid(&format!(r#"{{"req_id":5,"req_id":"{REQ}"}}"#), Some(req()));
}

#[test]
fn escaped_member_names_are_decoded() {
    let text = format!(
        r#"{{"\u006dsg_id":"{MSG}","req\u005fid":"{REQ}","\u0061ction":"x","payl\u006fad":{{}}}}"#
    );
    let envelope = parse_action(&text).expect("valid");
    assert_eq!(envelope.action, "x");
    // Escapes in a later duplicate still make it the last one.
    let text = format!(
        r#"{{"action":"x","\u0061ction":"y","msg_id":"{MSG}","req_id":"{REQ}","payload":{{}}}}"#
    );
    assert_eq!(
        parse_action(&text).map(|e| e.action.into_owned()),
        Ok("y".to_owned())
    );
    // A key that does not decode matches nothing.
    assert_invalid(&format!(r#"{{"req_id\ud800":"{REQ}"}}"#), None);
    // Names are case-sensitive.
    assert_invalid(&format!(r#"{{"REQ_ID":"{REQ}"}}"#), None);
}

#[test]
fn action_is_trimmed_and_borrowed_when_possible() {
    let text = with("\" \\t get user\\u3000\"", "{}");
    let envelope = parse_action(&text).expect("valid");
    assert_eq!(envelope.action, "get user");
    let text = with("\" \u{3000}health\u{85} \"", "{}");
    let envelope = parse_action(&text).expect("valid");
    assert!(matches!(envelope.action, Cow::Borrowed("health")));
    let text = with(r#""h\u0065alth""#, "{}");
    assert_eq!(parse_action(&text).expect("valid").action, "health");
}

#[test]
fn action_keeps_zero_width_space_and_bom() {
    let text = with("\"\u{200b}a\u{feff}\"", "{}");
    assert_eq!(
        parse_action(&text).expect("valid").action,
        "\u{200b}a\u{feff}"
    );
}

#[test]
fn action_must_be_a_non_empty_string() {
    for action in [
        "1",
        "null",
        "true",
        "[]",
        "{}",
        r#""""#,
        r#"" ""#,
        r#""\t\n\u001f\u3000""#,
    ] {
        assert_invalid(&with(action, "{}"), Some(req()));
    }
}

#[test]
fn action_with_lone_surrogate_is_invalid_but_reports_req_id() {
    for action in [r#""\ud800""#, r#""a\udc00""#, r#""\ud800\u0041""#] {
        assert_invalid(&with(action, "{}"), Some(req()));
    }
    // A proper pair is fine.
    let text = with(r#""\ud83d\ude00""#, "{}");
    assert_eq!(parse_action(&text).expect("valid").action, "\u{1f600}");
}

#[test]
fn payload_must_be_an_object() {
    for payload in ["[]", r#""{}""#, "null", "1", "true", "NaN"] {
        assert_invalid(&with(r#""a""#, payload), Some(req()));
    }
}

#[test]
fn payload_accepts_python_only_json() {
    assert_payload_accepted(r#"{"s":"\ud800 lone"}"#);
    assert_payload_accepted(r#"{"n":NaN,"i":Infinity,"m":-Infinity}"#);
    assert_payload_accepted(&format!(r#"{{"big":{}}}"#, "7".repeat(5000)));
    assert_payload_accepted(r#"{"huge":1e400}"#);
}

#[test]
fn payload_nested_500_levels_is_accepted() {
    assert_payload_accepted(&format!(
        "{}{}",
        "{\"a\":".repeat(499),
        "{}".to_owned() + &"}".repeat(499)
    ));
    assert_payload_accepted(&format!("{{\"a\":{}{}}}", "[".repeat(499), "]".repeat(499)));
}

#[test]
fn nesting_limit_counts_the_envelope() {
    // Envelope (1) + payload object (1) + arrays fill the limit exactly.
    let arrays = MAX_NESTING_DEPTH - 2;
    assert_payload_accepted(&format!(
        "{{\"a\":{}{}}}",
        "[".repeat(arrays),
        "]".repeat(arrays)
    ));
    let deeper = format!(
        "{{\"a\":{}{}}}",
        "[".repeat(arrays + 1),
        "]".repeat(arrays + 1)
    );
    assert_invalid(&with(r#""a""#, &deeper), None);
}

#[test]
fn very_deep_payload_is_rejected_without_recursion() {
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
            parse_action(&with(r#""a""#, &deep)).err()
        })
        .expect("spawn");
    let result = handle.join().expect("parser thread panicked");
    assert_eq!(result, Some(InvalidMessage { req_id: None }));
}

#[test]
fn bom_and_surrounding_whitespace_are_ignored() {
    let text = format!("\u{feff} \r\n\t{} \n", with(r#""a""#, "{}"));
    assert!(parse_action(&text).is_ok());
    // Only one BOM, and only at the very start.
    assert_invalid(&format!("\u{feff}\u{feff}{}", with(r#""a""#, "{}")), None);
    assert_invalid(&format!(" \u{feff}{}", with(r#""a""#, "{}")), None);
}

#[test]
fn raw_control_character_or_invalid_escape_is_invalid_json() {
    assert_invalid(&with("\"a\u{1}b\"", "{}"), None);
    assert_invalid(&with(r#""a""#, "{\"s\":\"\n\"}"), None);
    assert_invalid(&with(r#""\x41""#, "{}"), None);
    assert_invalid(&with(r#""a""#, r#"{"s":"\u00g0"}"#), None);
}

#[test]
fn empty_or_blank_text_is_invalid() {
    for text in ["", " ", "\u{feff}", "\n\t", "{}"] {
        assert_invalid(text, None);
    }
}

#[test]
fn binary_frame_is_invalid_but_reports_req_id() {
    let text = with(r#""a""#, "{}");
    assert_eq!(
        parse_binary(text.as_bytes()),
        InvalidMessage {
            req_id: Some(req())
        }
    );
    let partial = format!(r#"{{"req_id":"{REQ}","action":7}}"#);
    assert_eq!(
        parse_binary(partial.as_bytes()),
        InvalidMessage {
            req_id: Some(req())
        }
    );
}

#[test]
fn binary_frame_without_extractable_req_id() {
    for bytes in [
        &b""[..],
        b"\xff\xfe{}",
        b"{\"req_id\":\"\xc3\"}",
        b"[1]",
        b"{\"req_id\":1}",
        b"{\"a\":1",
    ] {
        assert_eq!(
            parse_binary(bytes),
            InvalidMessage { req_id: None },
            "{bytes:?}"
        );
    }
    let mut not_utf8 = format!(r#"{{"req_id":"{REQ}","x":""#).into_bytes();
    not_utf8.extend_from_slice(b"\xff\"}");
    assert_eq!(parse_binary(&not_utf8), InvalidMessage { req_id: None });
}

#[test]
fn invalid_message_displays_the_protocol_detail() {
    assert_eq!(
        InvalidMessage { req_id: None }.to_string(),
        "Message must contain valid UUID 'msg_id' and 'req_id', a non-empty 'action' string, \
         and an object 'payload'."
    );
}
