//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same checks the
//! cargo-fuzz targets run (`fuzz/src/checks/`), on the stable toolchain and without
//! cargo-fuzz, so every change is tested against every input the fuzzers kept. See
//! `fuzz/README.md`.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/checks/mod.rs"]
mod checks;

/// Every file of `fuzz/corpus/<target>/`, sorted; fails when there is none, so a moved or
/// emptied corpus does not pass silently.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
        .into_iter()
        .map(|path| {
            let data = fs::read(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            (path, data)
        })
        .collect()
}

/// Runs `check` on every input of `target`'s corpus, naming the input that fails.
fn replay(target: &str, mut check: impl FnMut(&[u8])) {
    for (path, data) in corpus(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        if let Err(panic) = outcome {
            eprintln!("corpus input {} failed its check", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn envelope_corpus() {
    replay("envelope", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            checks::envelope::check_envelope(text);
        }
    });
}

#[test]
fn uuid_corpus() {
    replay("uuid", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            checks::uuid::check_uuid(text);
        }
    });
}

#[test]
fn connection_corpus() {
    let runtime = checks::connection::connection_runtime();
    let dispatcher = checks::connection::connection_dispatcher();
    replay("connection", |data| {
        checks::connection::check_connection(&runtime, &dispatcher, data);
    });
}

/// The frame format round-trips, so seeds written with `join_frames` mean what they say.
#[test]
fn frames_round_trip() {
    let long = "x".repeat(300);
    let frames = [
        checks::connection::Frame::Text(""),
        checks::connection::Frame::Binary(b"\xff\x00"),
        checks::connection::Frame::Text(&long),
        checks::connection::Frame::Binary(long.as_bytes()),
    ];
    assert_eq!(
        checks::connection::split_frames(&checks::connection::join_frames(&frames)),
        frames
    );
}
