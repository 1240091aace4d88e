//! `parse_uuid` on arbitrary UTF-8 text; see `src/checks/uuid.rs`.

#![no_main]

#[path = "../src/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        checks::uuid::check_uuid(text);
    }
});
