//! Trimming of action names the way Python's `str.strip()` does it.

/// Whether Python's `str.isspace` holds for `c`.
///
/// Python's set is Unicode White_Space (what [`char::is_whitespace`] tests)
/// plus the ASCII information separators U+001C..U+001F, which Python counts
/// as whitespace because their bidirectional class is B or S.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Removes leading and trailing whitespace from an action name, exactly as the
/// Python library's `action.strip()` does.
///
/// Whitespace is Unicode White_Space plus U+001C..U+001F. U+200B (zero width
/// space) and U+FEFF (BOM / zero width no-break space) are *not* whitespace and
/// are kept; whitespace inside the name is kept too.
#[must_use]
pub fn trim_action(s: &str) -> &str {
    s.trim_matches(is_python_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character Python 3's `str.isspace` accepts, as listed by
    /// `[hex(i) for i in range(0x110000) if chr(i).isspace()]`.
    const PYTHON_SPACE: &[char] = &[
        '\u{9}', '\u{a}', '\u{b}', '\u{c}', '\u{d}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}',
        '\u{20}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}',
        '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}',
        '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
    ];

    #[test]
    fn trims_ascii_space() {
        assert_eq!(trim_action("  health  "), "health");
    }

    #[test]
    fn trims_ascii_control_whitespace() {
        assert_eq!(trim_action("\t\n\r\x0b\x0chealth\x0c\x0b\r\n\t"), "health");
    }

    #[test]
    fn trims_information_separators() {
        assert_eq!(
            trim_action("\x1c\x1d\x1e\x1fhealth\x1f\x1e\x1d\x1c"),
            "health"
        );
    }

    #[test]
    fn trims_unicode_white_space() {
        for &c in &[
            '\u{85}', '\u{a0}', '\u{1680}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}',
            '\u{3000}',
        ] {
            let s = format!("{c}health{c}");
            assert_eq!(trim_action(&s), "health", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn trims_en_quad_through_hair_space() {
        for c in '\u{2000}'..='\u{200a}' {
            let s = format!("{c}health{c}");
            assert_eq!(trim_action(&s), "health", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn trims_exactly_the_python_set() {
        // Compare over the whole Basic Multilingual Plane and beyond, so a
        // character added to or missing from our set shows up.
        for c in (0..=0x10_ffff_u32).filter_map(char::from_u32) {
            assert_eq!(
                is_python_space(c),
                PYTHON_SPACE.contains(&c),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn keeps_zero_width_space_and_bom() {
        assert_eq!(
            trim_action("\u{200b}health\u{200b}"),
            "\u{200b}health\u{200b}"
        );
        assert_eq!(
            trim_action("\u{feff}health\u{feff}"),
            "\u{feff}health\u{feff}"
        );
        // The kept character shields whitespace behind it.
        assert_eq!(trim_action(" \u{200b} health "), "\u{200b} health");
    }

    #[test]
    fn keeps_interior_whitespace() {
        assert_eq!(
            trim_action(" get  user\u{3000}info "),
            "get  user\u{3000}info"
        );
    }

    #[test]
    fn whitespace_only_becomes_empty() {
        assert_eq!(trim_action(" \t\u{3000}\x1f\u{85} "), "");
        assert_eq!(trim_action(""), "");
    }

    #[test]
    fn returns_a_subslice_without_copying() {
        let s = "  health ";
        let t = trim_action(s);
        assert_eq!(t.as_ptr(), s[2..].as_ptr());
    }
}
