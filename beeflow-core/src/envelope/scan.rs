//! One-pass, non-recursive JSON syntax check with Python `json.loads` rules.
//!
//! The Python library decodes every frame with `json.loads` (strict mode), so
//! a frame is only an action when `json.loads` would accept it. That differs
//! from RFC 8259 and from `serde_json` in a few places, all reproduced here:
//! `NaN`, `Infinity` and `-Infinity` are values, numbers have no size limit,
//! lone surrogate escapes are fine, and only space, tab, LF and CR are
//! whitespace.
//!
//! The scanner never builds values. It validates the whole text and hands the
//! caller the raw slices of the top-level object's members, so the envelope
//! can decode just the four members it needs and pass the payload on as text.
//! Nesting is tracked in a fixed bit stack instead of the call stack: a frame
//! nested 100 000 levels deep costs a few bytes of state, not a stack
//! overflow, and it is refused as soon as it passes [`MAX_NESTING_DEPTH`].

use super::MAX_NESTING_DEPTH;

/// Why a text is not an envelope-shaped JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// The text does not start (after whitespace) with `{`: empty, an array,
    /// a scalar or garbage. The rest of the text is not examined.
    NotAnObject,
    /// The text is not valid JSON under Python's rules.
    Syntax,
    /// More than [`MAX_NESTING_DEPTH`] arrays and objects are open at once.
    TooDeep,
}

/// Which kind of container a nesting level is; decides what closes it and
/// what follows a comma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

/// Open containers, one bit per level (1 = array), so the stack has a fixed
/// size and needs no allocation per frame.
struct Stack {
    bits: [u64; MAX_NESTING_DEPTH.div_ceil(64)],
    depth: usize,
}

impl Stack {
    fn new() -> Self {
        Self {
            bits: [0; MAX_NESTING_DEPTH.div_ceil(64)],
            depth: 0,
        }
    }

    fn push(&mut self, container: Container) -> Result<(), ScanError> {
        if self.depth == MAX_NESTING_DEPTH {
            return Err(ScanError::TooDeep);
        }
        let (word, bit) = (self.depth / 64, self.depth % 64);
        match container {
            Container::Array => self.bits[word] |= 1 << bit,
            Container::Object => self.bits[word] &= !(1 << bit),
        }
        self.depth += 1;
        Ok(())
    }

    /// The innermost open container; only called while one is open.
    fn top(&self) -> Container {
        let level = self.depth - 1;
        if self.bits[level / 64] >> (level % 64) & 1 == 1 {
            Container::Array
        } else {
            Container::Object
        }
    }
}

/// What the scanner expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Just after `{`: a key or `}`.
    FirstKey,
    /// Just after a comma in an object: a key (a trailing comma is an error).
    NextKey,
    /// Just after `[`: a value or `]`.
    FirstElement,
    /// A value: after `:` or after a comma in an array.
    Value,
    /// After a value: a comma or the innermost container's closing bracket.
    Separator,
}

/// Validates `text` as a JSON object under Python `json.loads` rules and calls
/// `on_member(raw_key, raw_value)` for each member of the top-level object, in
/// text order, duplicates included.
///
/// `raw_key` is the key's string token *with* its quotes and escapes as
/// written; `raw_value` is the value's text exactly as written, without
/// surrounding whitespace. Leading and trailing whitespace around the object is
/// allowed; anything else after it is an error. Members may already have been
/// reported when an error is found later in the text, so callers must discard
/// what they collected on `Err`.
pub(crate) fn scan_object<'a>(
    text: &'a str,
    mut on_member: impl FnMut(&'a str, &'a str),
) -> Result<(), ScanError> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(ScanError::NotAnObject);
    }
    i += 1;
    let mut stack = Stack::new();
    stack.push(Container::Object)?;
    let mut expect = Expect::FirstKey;
    // The current top-level member; only touched while depth is 1.
    let mut key = "";
    let mut value_start = 0;

    loop {
        i = skip_ws(b, i);
        // Whether a value ended at `i`, and whether that was the last bracket.
        let mut value_done = false;
        match expect {
            Expect::FirstKey | Expect::NextKey => match b.get(i) {
                Some(b'"') => {
                    let end = scan_string(b, i)?;
                    if stack.depth == 1 {
                        key = &text[i..end];
                    }
                    i = skip_ws(b, end);
                    if b.get(i) != Some(&b':') {
                        return Err(ScanError::Syntax);
                    }
                    i += 1;
                    expect = Expect::Value;
                }
                Some(b'}') if expect == Expect::FirstKey => {
                    i += 1;
                    stack.depth -= 1;
                    value_done = true;
                }
                _ => return Err(ScanError::Syntax),
            },
            Expect::FirstElement if b.get(i) == Some(&b']') => {
                i += 1;
                stack.depth -= 1;
                value_done = true;
            }
            Expect::FirstElement | Expect::Value => {
                if stack.depth == 1 {
                    value_start = i;
                }
                match b.get(i) {
                    Some(b'{') => {
                        stack.push(Container::Object)?;
                        i += 1;
                        expect = Expect::FirstKey;
                    }
                    Some(b'[') => {
                        stack.push(Container::Array)?;
                        i += 1;
                        expect = Expect::FirstElement;
                    }
                    Some(_) => {
                        i = scan_scalar(b, i)?;
                        value_done = true;
                    }
                    None => return Err(ScanError::Syntax),
                }
            }
            Expect::Separator => match (b.get(i), stack.top()) {
                (Some(b','), Container::Object) => {
                    i += 1;
                    expect = Expect::NextKey;
                }
                (Some(b','), Container::Array) => {
                    i += 1;
                    expect = Expect::Value;
                }
                (Some(b'}'), Container::Object) | (Some(b']'), Container::Array) => {
                    i += 1;
                    stack.depth -= 1;
                    value_done = true;
                }
                _ => return Err(ScanError::Syntax),
            },
        }
        if value_done {
            match stack.depth {
                // The top-level object itself just closed.
                0 => break,
                1 => on_member(key, &text[value_start..i]),
                _ => {}
            }
            expect = Expect::Separator;
        }
    }

    if skip_ws(b, i) == b.len() {
        Ok(())
    } else {
        Err(ScanError::Syntax)
    }
}

/// Skips Python's JSON whitespace (`[ \t\n\r]*`, nothing else) from `i`.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Skips ASCII digits from `i`. Python's C scanner only takes `0`-`9`.
fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Scans a string, number or literal starting at `i`; returns its end.
fn scan_scalar(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let rest = &b[i..];
    // Python's scanner dispatches on the first character the same way; a
    // literal followed by more letters fails later, at the separator.
    let literal: &[u8] = match rest[0] {
        b'"' => return scan_string(b, i),
        b'-' if rest.starts_with(b"-Infinity") => b"-Infinity",
        b'-' | b'0'..=b'9' => return scan_number(b, i),
        b't' => b"true",
        b'f' => b"false",
        b'n' => b"null",
        b'N' => b"NaN",
        b'I' => b"Infinity",
        _ => return Err(ScanError::Syntax),
    };
    if rest.starts_with(literal) {
        Ok(i + literal.len())
    } else {
        Err(ScanError::Syntax)
    }
}

/// Scans a string token whose opening quote is at `start`; returns the index
/// just past the closing quote.
fn scan_string(b: &[u8], start: usize) -> Result<usize, ScanError> {
    let mut i = start + 1;
    loop {
        // Eight plain bytes at a time while there are (most of a string is plain).
        // Multi-byte UTF-8 sequences only contain bytes >= 0x80, so a byte-wise scan
        // cannot mistake part of one for a quote or backslash.
        while let Some(word) = b.get(i..i + 8) {
            let flagged = attention(u64::from_le_bytes(word.try_into().expect("eight bytes")));
            if flagged != 0 {
                // Straight to the first byte that is not plain (the lowest flag is exact).
                i += (flagged.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match b.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    // Exactly four hex digits; surrogates need not pair up.
                    let hex = b.get(i + 2..i + 6).ok_or(ScanError::Syntax)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(ScanError::Syntax);
                    }
                    i += 6;
                }
                _ => return Err(ScanError::Syntax),
            },
            // strict=True: raw control characters are not allowed in strings.
            Some(0x00..=0x1f) | None => return Err(ScanError::Syntax),
            Some(_) => i += 1,
        }
    }
}

/// The bytes of `word` (little-endian) that are a quote, a backslash or a control
/// character, each flagged by its high bit: a string's bytes that are not plain. The
/// classic bit trick: `x - 0x01..` borrows into a byte's high bit where that byte is below
/// the subtrahend (1 for a zero byte, or 0x20), which `!x` keeps to bytes that had it
/// clear. A borrow can also flag a byte above a flagged one, so only the lowest flag says
/// exactly where; zero means all eight are plain.
fn attention(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH_BITS;
    let quote = below(word ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
    let control = below(word, 0x20);
    quote | backslash | control
}

/// Whether the inside of a string token the scanner accepted holds an escape: there, the
/// only byte [`attention`] can flag is a backslash (quotes inside are escaped, raw control
/// characters refused). Words at a time: `str::contains` sets up `memchr`, which costs more
/// than it saves on strings this short.
pub(super) fn has_escapes(inner: &str) -> bool {
    needs_escaping(inner)
}

/// Whether `s` must be escaped as a JSON string (a quote, a backslash or a control
/// character in it).
pub(super) fn needs_escaping(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let in_words = words
        .by_ref()
        .any(|word| attention(u64::from_le_bytes(word.try_into().expect("eight bytes"))) != 0);
    in_words
        || words
            .remainder()
            .iter()
            .any(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Scans `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?` from `i`, of any
/// length; returns its end.
fn scan_number(b: &[u8], mut i: usize) -> Result<usize, ScanError> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = skip_digits(b, i + 1),
        _ => return Err(ScanError::Syntax),
    }
    // Python ends the number before a `.` or `e` without digits; the stray
    // character is then a syntax error anyway, so fail here directly.
    if b.get(i) == Some(&b'.') {
        let end = skip_digits(b, i + 1);
        if end == i + 1 {
            return Err(ScanError::Syntax);
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = skip_digits(b, i);
        if end == i {
            return Err(ScanError::Syntax);
        }
        i = end;
    }
    Ok(i)
}

#[cfg(test)]
mod tests;
