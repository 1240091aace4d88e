//! Scanner tests: each Python `json.loads` acceptance rule, accepted and
//! rejected, and the nesting limit.

use super::*;

/// Scans `text`, collecting the top-level members.
fn members(text: &str) -> Result<Vec<(&str, &str)>, ScanError> {
    let mut out = Vec::new();
    scan_object(text, |k, v| out.push((k, v)))?;
    Ok(out)
}

/// Wraps `value` as the only member of an object and checks it is accepted
/// and returned verbatim.
fn accepts_value(value: &str) {
    let text = format!(r#"{{"v":{value}}}"#);
    assert_eq!(
        members(&text),
        Ok(vec![(r#""v""#, value)]),
        "should accept {value:?}"
    );
}

/// Wraps `value` as the only member of an object and checks it is rejected.
fn rejects_value(value: &str) {
    let text = format!(r#"{{"v":{value}}}"#);
    assert_eq!(
        members(&text),
        Err(ScanError::Syntax),
        "should reject {value:?}"
    );
}

/// `depth` nested arrays, e.g. `[[[]]]` for 3.
fn nested_arrays(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

#[test]
fn returns_raw_members_in_order_with_duplicates() {
    let text = r#" { "a" : 1 , "b":{"x":[1, 2]} ,"a":"s\n" } "#;
    assert_eq!(
        members(text),
        Ok(vec![
            (r#""a""#, "1"),
            (r#""b""#, r#"{"x":[1, 2]}"#),
            (r#""a""#, r#""s\n""#),
        ])
    );
}

#[test]
fn nested_members_are_not_reported() {
    assert_eq!(
        members(r#"{"p":{"q":{"r":1}},"s":[{"t":2}]}"#),
        Ok(vec![
            (r#""p""#, r#"{"q":{"r":1}}"#),
            (r#""s""#, r#"[{"t":2}]"#)
        ])
    );
}

#[test]
fn empty_object_has_no_members() {
    assert_eq!(members("{}"), Ok(vec![]));
    assert_eq!(members(" \t\r\n{ \t\r\n} \t\r\n"), Ok(vec![]));
}

#[test]
fn top_level_must_be_an_object() {
    for text in [
        "", " \t\r\n", "[]", "[{}]", r#""{}""#, "1", "null", "true", "NaN",
    ] {
        assert_eq!(members(text), Err(ScanError::NotAnObject), "{text:?}");
    }
}

#[test]
fn only_python_whitespace_is_whitespace() {
    for ws in ["\u{b}", "\u{c}", "\u{a0}", "\u{feff}", "\u{3000}", "\u{85}"] {
        assert!(members(&format!("{ws}{{}}")).is_err(), "leading {ws:?}");
        assert!(members(&format!("{{}}{ws}")).is_err(), "trailing {ws:?}");
        assert!(members(&format!("{{{ws}}}")).is_err(), "inside {ws:?}");
    }
}

#[test]
fn accepts_literals_including_python_extensions() {
    for value in ["true", "false", "null", "NaN", "Infinity", "-Infinity"] {
        accepts_value(value);
    }
    accepts_value("[NaN,Infinity,-Infinity,true,false,null]");
}

#[test]
fn rejects_misspelled_or_extended_literals() {
    for value in [
        "True",
        "nul",
        "nulll",
        "truex",
        "nan",
        "infinity",
        "-NaN",
        "+Infinity",
        "-Inf",
        "undefined",
    ] {
        rejects_value(value);
    }
}

#[test]
fn accepts_numbers_of_the_json_grammar() {
    for value in [
        "0", "-0", "7", "-12", "0.5", "-0.0e-0", "1e5", "1E+5", "2.5e-3", "10",
    ] {
        accepts_value(value);
    }
}

#[test]
fn accepts_numbers_of_any_size() {
    accepts_value(&"9".repeat(5000));
    accepts_value("1e400");
    accepts_value("-1e-400");
    accepts_value(&format!("0.{}", "1".repeat(5000)));
}

#[test]
fn rejects_numbers_outside_the_grammar() {
    for value in [
        "01", "-", "+1", "1.", ".5", "1e", "1e+", "1.e5", "0x10", "1_000", "--1", "1.5.5", "١",
    ] {
        rejects_value(value);
    }
}

#[test]
fn accepts_every_escape() {
    accepts_value(r#""\" \\ \/ \b \f \n \r \t \u00e9 \uABCD \uabcd""#);
}

#[test]
fn accepts_lone_surrogate_escapes() {
    accepts_value(r#""\ud800""#);
    accepts_value(r#""\udc00x\ud800""#);
    accepts_value(r#""\ud83d\ude00""#);
}

#[test]
fn rejects_invalid_escapes() {
    for value in [
        r#""\a""#,
        r#""\x41""#,
        r#""\u12""#,
        r#""\u12g4""#,
        r#""\u+123""#,
        r#""\U0041""#,
        r#""\'""#,
    ] {
        rejects_value(value);
    }
}

#[test]
fn rejects_raw_control_characters_in_strings() {
    for c in 0_u8..0x20 {
        rejects_value(&format!("\"a{}b\"", char::from(c)));
    }
    // DEL and non-ASCII are fine raw.
    accepts_value("\"\u{7f}\u{e9}\u{1f600}\"");
}

#[test]
fn rejects_unterminated_input() {
    for text in [
        "{",
        r#"{"a""#,
        r#"{"a":"#,
        r#"{"a":1"#,
        r#"{"a":1,"#,
        r#"{"a":"x"#,
        r#"{"a":"x\"#,
        r#"{"a":[1"#,
    ] {
        assert_eq!(members(text), Err(ScanError::Syntax), "{text:?}");
    }
}

#[test]
fn rejects_trailing_commas() {
    assert_eq!(members(r#"{"a":1,}"#), Err(ScanError::Syntax));
    rejects_value("[1,]");
    rejects_value("[,]");
    rejects_value(r#"{"b":1,}"#);
}

#[test]
fn rejects_structural_mistakes() {
    for text in [
        r#"{"a" 1}"#,
        r#"{"a"::1}"#,
        r#"{a:1}"#,
        r#"{'a':1}"#,
        r#"{1:1}"#,
        r#"{"a":1 "b":2}"#,
        r#"{"a":1;"b":2}"#,
        r#"{"a":[1 2]}"#,
        r#"{"a":[1}"#,
        r#"{"a":{]}"#,
        r#"{"a":1]"#,
        r#"{,"a":1}"#,
    ] {
        assert_eq!(members(text), Err(ScanError::Syntax), "{text:?}");
    }
}

#[test]
fn rejects_trailing_garbage() {
    for text in [
        "{}x",
        "{} {}",
        "{}\u{0}",
        "{},",
        r#"{"a":1}}"#,
        "{} \u{feff}",
    ] {
        assert_eq!(members(text), Err(ScanError::Syntax), "{text:?}");
    }
}

#[test]
fn accepts_exactly_max_nesting_depth() {
    // The outer object is level 1, so MAX_NESTING_DEPTH - 1 arrays fill it up.
    let value = nested_arrays(MAX_NESTING_DEPTH - 1);
    let text = format!(r#"{{"v":{value}}}"#);
    assert_eq!(members(&text), Ok(vec![(r#""v""#, value.as_str())]));
}

#[test]
fn rejects_one_level_deeper() {
    let text = format!(r#"{{"v":{}}}"#, nested_arrays(MAX_NESTING_DEPTH));
    assert_eq!(members(&text), Err(ScanError::TooDeep));
}

#[test]
fn nesting_mixes_objects_and_arrays() {
    // Alternating containers exercise the bit stack across word boundaries.
    let depth = 300;
    let mut text = String::from(r#"{"v":"#);
    for level in 0..depth {
        text.push_str(if level % 2 == 0 { "[" } else { r#"{"k":"# });
    }
    text.push('1');
    for level in (0..depth).rev() {
        text.push(if level % 2 == 0 { ']' } else { '}' });
    }
    text.push('}');
    assert_eq!(members(&text).map(|m| m.len()), Ok(1));
    // Closing with the wrong bracket kind anywhere is caught.
    let wrong = text.replacen("]}", "}}", 1);
    assert_eq!(members(&wrong), Err(ScanError::Syntax));
}

#[test]
fn deep_input_does_not_use_the_call_stack() {
    // 256 KiB would be far too little for a recursive descent 100 000 levels
    // deep; the scanner must answer without growing the stack.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let deep = format!(r#"{{"v":{}}}"#, nested_arrays(100_000));
            let objects = format!("{}{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
            (members(&deep).err(), members(&objects).err())
        })
        .expect("spawn");
    let (deep, objects) = handle.join().expect("scanner thread panicked");
    assert_eq!(deep, Some(ScanError::TooDeep));
    assert_eq!(objects, Some(ScanError::TooDeep));
}

#[test]
fn eight_bytes_at_a_time_finds_exactly_the_bytes_a_string_must_escape() {
    let plain = |b: u8| b != b'"' && b != b'\\' && b >= 0x20;
    // Every byte value at every position of a word, between plain bytes (including the
    // ones just above and below each boundary, and UTF-8's bytes >= 0x80).
    for position in 0..8 {
        for byte in 0..=255_u8 {
            let mut word = *b"abcdefgh";
            word[position] = byte;
            let flagged = attention(u64::from_le_bytes(word));
            assert_eq!(flagged != 0, !plain(byte), "byte {byte:#04x} at {position}");
            if flagged != 0 {
                assert_eq!(flagged.trailing_zeros() / 8, position as u32, "where");
            }
        }
    }
    for (text, escape) in [
        ("", false),
        ("websocket", false),
        ("8d6e5f4c-3b2a-4190-8f7e-6d5c4b3a2918", false),
        ("é😀 plain", false),
        ("twelve chars\"", true),
        ("0123456789abcdef\\", true),
        ("tab\tin the first word", true),
        ("sixteen plain by\n", true),
    ] {
        assert_eq!(needs_escaping(text), escape, "{text:?}");
    }
}

#[test]
fn the_first_byte_to_escape_is_found_whatever_follows_it() {
    // A zero byte borrows into the bytes above it: the lowest flag must still be exact,
    // and strings around such bytes must scan as before.
    for text in ["\"ab\u{0}\"", "\"\u{0}\u{1}\"\"", "\"0123456\\u0000x\""] {
        let escaped = text.contains('\\');
        assert_eq!(
            members(&format!("{{\"k\":{text}}}")).is_ok(),
            escaped,
            "{text:?}"
        );
    }
}
