//! `uuid`: `parse_uuid` against the spellings of §5 of `docs/protocol.md`.

use super::*;

/// The 128-bit value of exactly 32 ASCII hex digits, else `None`.
fn hex128(digits: &[u8]) -> Option<u128> {
    if digits.len() != 32 {
        return None;
    }
    digits.iter().try_fold(0u128, |value, &digit| {
        let nibble = char::from(digit).to_digit(16)?;
        Some(value << 4 | u128::from(nibble))
    })
}

/// The value of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, else `None`.
fn hyphenated128(text: &[u8]) -> Option<u128> {
    if text.len() != 36 || [8, 13, 18, 23].iter().any(|&at| text[at] != b'-') {
        return None;
    }
    let digits: Vec<u8> = text.iter().copied().filter(|&b| b != b'-').collect();
    hex128(&digits)
}

/// `docs/protocol.md` §5, written out independently of `parse_uuid`: the four
/// accepted spellings, hex digits of either case, nothing else.
fn reference_uuid(text: &str) -> Option<Uuid> {
    let b = text.as_bytes();
    let value = match b.len() {
        32 => hex128(b),
        36 => hyphenated128(b),
        38 if b[0] == b'{' && b[37] == b'}' => hyphenated128(&b[1..37]),
        45 if b.starts_with(b"urn:uuid:") => hyphenated128(&b[9..]),
        _ => None,
    }?;
    Some(Uuid::from_u128(value))
}

/// Checks `parse_uuid` on one string: it never panics, agrees with the
/// documented rule, and every spelling of an accepted value parses back to it.
pub(crate) fn check_uuid(text: &str) {
    let parsed = parse_uuid(text);
    assert_eq!(
        parsed,
        reference_uuid(text),
        "parse_uuid disagrees with docs/protocol.md §5 on {text:?}"
    );
    let Some(uuid) = parsed else {
        return;
    };
    let spellings = [
        uuid.hyphenated().to_string(),
        uuid.hyphenated().to_string().to_uppercase(),
        uuid.simple().to_string(),
        uuid.braced().to_string(),
        uuid.urn().to_string(),
    ];
    for spelling in spellings {
        assert_eq!(
            parse_uuid(&spelling),
            Some(uuid),
            "{spelling:?} (from {text:?}) does not parse back"
        );
    }
    assert_eq!(
        parse_uuid(&text.to_ascii_lowercase()),
        Some(uuid),
        "lower-casing {text:?} changed it"
    );
}
