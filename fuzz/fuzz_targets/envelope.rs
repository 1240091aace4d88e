//! `parse_action` on arbitrary UTF-8 text; see `src/checks/envelope.rs`.

#![no_main]

#[path = "../src/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // A transport only hands valid UTF-8 text frames to the parser.
    if let Ok(text) = std::str::from_utf8(data) {
        checks::envelope::check_envelope(text);
    }
});
