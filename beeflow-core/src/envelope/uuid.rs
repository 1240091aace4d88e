//! UUID strings as the Python library accepts them (`docs/protocol.md` §5).
//!
//! pydantic v2 parses `UUID` fields with the Rust `uuid` crate, so
//! [`Uuid::try_parse`] is almost exactly the rule we need: hyphenated, simple
//! (32 digits), braced hyphenated and `urn:uuid:` + hyphenated, hex digits of
//! either case, nothing else. The one difference is the URN prefix: current
//! `uuid` releases compare it case-insensitively, while the `uuid` build inside
//! pydantic-core (and therefore the Python library) only accepts the lower-case
//! `urn:uuid:`. We reject the other spellings of the prefix before delegating.

use ::uuid::Uuid;

/// The only URN prefix the Python library accepts.
const URN_PREFIX: &str = "urn:uuid:";

/// Length of `urn:uuid:` followed by a hyphenated UUID; the `uuid` crate treats
/// every input of this length as a URN, so this is the only shape to police.
const URN_LEN: usize = URN_PREFIX.len() + 36;

/// Parses a UUID string the way the Python library does.
///
/// Accepted (hex digits of either case): `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
/// 32 hex digits without hyphens, the hyphenated form in braces, and
/// `urn:uuid:` (lower case only) followed by the hyphenated form. Any version
/// and variant is accepted, the nil and max UUIDs included. Everything else —
/// surrounding whitespace, an upper-case `URN:UUID:` prefix, braces around the
/// 32-digit form, wrong grouping, non-hex or non-ASCII digits — yields `None`.
#[must_use]
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() == URN_LEN && !s.starts_with(URN_PREFIX) {
        return None;
    }
    Uuid::try_parse(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOWER: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    const EXPECTED: u128 = 0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8;

    fn expected() -> Uuid {
        Uuid::from_u128(EXPECTED)
    }

    #[test]
    fn accepts_hyphenated_lower_upper_and_mixed_case() {
        assert_eq!(parse_uuid(LOWER), Some(expected()));
        assert_eq!(parse_uuid(&LOWER.to_uppercase()), Some(expected()));
        assert_eq!(
            parse_uuid("67E55044-10b1-426F-9247-bB680e5Fe0C8"),
            Some(expected())
        );
    }

    #[test]
    fn accepts_simple_form() {
        assert_eq!(
            parse_uuid("67e5504410b1426f9247bb680e5fe0c8"),
            Some(expected())
        );
        assert_eq!(
            parse_uuid("67E5504410B1426F9247BB680E5FE0C8"),
            Some(expected())
        );
    }

    #[test]
    fn accepts_braced_hyphenated_form() {
        assert_eq!(parse_uuid(&format!("{{{LOWER}}}")), Some(expected()));
    }

    #[test]
    fn accepts_lower_case_urn() {
        assert_eq!(parse_uuid(&format!("urn:uuid:{LOWER}")), Some(expected()));
        assert_eq!(
            parse_uuid(&format!("urn:uuid:{}", LOWER.to_uppercase())),
            Some(expected())
        );
    }

    #[test]
    fn accepts_nil_and_max() {
        assert_eq!(
            parse_uuid("00000000-0000-0000-0000-000000000000"),
            Some(Uuid::nil())
        );
        assert_eq!(
            parse_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            Some(Uuid::max())
        );
        assert_eq!(
            parse_uuid("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
            Some(Uuid::max())
        );
    }

    #[test]
    fn accepts_any_version() {
        let v1 = parse_uuid("c232ab00-9414-11ec-b3c8-9f6bdeced846").map(|u| u.get_version_num());
        assert_eq!(v1, Some(1));
        let v7 = parse_uuid("017f22e2-79b0-7cc3-98c4-dc0c0c07398f").map(|u| u.get_version_num());
        assert_eq!(v7, Some(7));
        // Version 0 with a non-RFC variant: pydantic does not check either.
        assert!(parse_uuid("12345678-1234-0234-c234-123456789abc").is_some());
    }

    #[test]
    fn rejects_surrounding_whitespace() {
        assert_eq!(parse_uuid(&format!(" {LOWER}")), None);
        assert_eq!(parse_uuid(&format!("{LOWER} ")), None);
        assert_eq!(parse_uuid(&format!("\t{LOWER}")), None);
        assert_eq!(parse_uuid(&format!("{LOWER}\n")), None);
    }

    #[test]
    fn rejects_upper_or_mixed_case_urn_prefix() {
        assert_eq!(parse_uuid(&format!("URN:UUID:{LOWER}")), None);
        assert_eq!(parse_uuid(&format!("Urn:uuid:{LOWER}")), None);
        assert_eq!(parse_uuid(&format!("urn:UUID:{LOWER}")), None);
    }

    #[test]
    fn rejects_urn_with_simple_form() {
        assert_eq!(
            parse_uuid("urn:uuid:67e5504410b1426f9247bb680e5fe0c8"),
            None
        );
    }

    #[test]
    fn rejects_other_45_byte_prefixes() {
        // Same length as a URN, so it takes the URN path in the `uuid` crate.
        assert_eq!(parse_uuid(&format!("xrn:uuid:{LOWER}")), None);
    }

    #[test]
    fn rejects_braced_simple_form() {
        assert_eq!(parse_uuid("{67e5504410b1426f9247bb680e5fe0c8}"), None);
    }

    #[test]
    fn rejects_wrong_grouping() {
        // Right length and hyphen count, hyphens shifted by one.
        assert_eq!(parse_uuid("67e5504-410b1-426f-9247-bb680e5fe0c8"), None);
        assert_eq!(parse_uuid("67e55044-10b14-26f-9247-bb680e5fe0c8"), None);
        assert_eq!(parse_uuid("67e55044-10b1-426f-9247b-b680e5fe0c8"), None);
        // Hyphens in unexpected places, wrong count.
        assert_eq!(parse_uuid("67e55044-10b1-426f-9247bb680e5fe0c8"), None);
        assert_eq!(parse_uuid("67e5-5044-10b1-426f-9247-bb680e5fe0c8"), None);
    }

    #[test]
    fn rejects_non_hex_digit() {
        assert_eq!(parse_uuid("g7e55044-10b1-426f-9247-bb680e5fe0c8"), None);
        assert_eq!(parse_uuid("67e5504410b1426f9247bb680e5fe0cg"), None);
    }

    #[test]
    fn rejects_non_ascii_digits() {
        // Fullwidth digits (U+FF10..) and Arabic-Indic digits (U+0660..).
        let fullwidth = "６７e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(parse_uuid(fullwidth), None);
        let arabic_indic = "٠٠٠٠٠٠٠٠-0000-0000-0000-000000000000";
        assert_eq!(parse_uuid(arabic_indic), None);
        // A two-byte character in place of one digit, with the last digit
        // dropped, keeps the 36-byte length: it must fail on content, not size.
        assert_eq!(parse_uuid("é7e55044-10b1-426f-9247-bb680e5fe0c"), None);
    }

    #[test]
    fn rejects_too_short_and_too_long() {
        assert_eq!(parse_uuid(""), None);
        assert_eq!(parse_uuid(&LOWER[..35]), None);
        assert_eq!(parse_uuid(&format!("{LOWER}0")), None);
        assert_eq!(parse_uuid("67e5504410b1426f9247bb680e5fe0c"), None);
        assert_eq!(parse_uuid("67e5504410b1426f9247bb680e5fe0c80"), None);
    }
}
