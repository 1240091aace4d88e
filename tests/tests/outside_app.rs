//! The README's "Using beeflow in your app": its `Cargo.toml` and `src/main.rs`, as an
//! application outside this workspace would have them, compile against these crates (patched
//! in for the published versions) with the workspace's locked dependency versions.

use std::path::Path;
use std::process::Command;

/// The first fenced block after `heading` whose info string is `tag`.
fn block<'a>(text: &'a str, heading: &str, tag: &str) -> &'a str {
    let section = &text[text.find(heading).expect("the README section")..];
    let fence = format!("```{tag}\n");
    let start = section.find(&fence).expect("the code block") + fence.len();
    let len = section[start..].find("```").expect("the block's end");
    &section[start..start + len]
}

#[test]
fn the_readme_app_compiles_outside_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let heading = "## Using beeflow in your app";
    let manifest = block(&readme, heading, "toml");
    let main = block(&readme, heading, "rust,no_run");

    let app = root.join("target/outside-app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let patch = ["beeflow-core", "beeflow-macros", "beeflow-axum"]
        .map(|name| format!("{name} = {{ path = {:?} }}\n", root.join(name)))
        .concat();
    std::fs::write(
        app.join("Cargo.toml"),
        format!("{manifest}\n[patch.crates-io]\n{patch}\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(app.join("src/main.rs"), main).unwrap();
    std::fs::copy(root.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();

    let output = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet"])
        .current_dir(&app)
        // Shares the workspace's build cache: the locked versions are already built there.
        .env("CARGO_TARGET_DIR", root.join("target"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "the README's app does not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
