//! Running the real tools: the quickstart binary, and the Node scripts in
//! `tests/schema-tools` (installed by `scripts/test.sh`).

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// `tests/schema-tools`.
pub(crate) fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema-tools")
}

/// Runs `node <script> <args>` in `tests/schema-tools` with `stdin`, and returns its output.
///
/// # Panics
///
/// When the tools are not installed or node cannot start: these tests never skip.
pub(crate) fn node<S: AsRef<OsStr>>(script: &str, args: &[S], stdin: &str) -> Output {
    assert!(
        tools().join("node_modules").is_dir(),
        "tests/schema-tools/node_modules is missing: run `bash scripts/test.sh`, which installs \
         it, or `npm ci --prefix tests/schema-tools`"
    );
    let mut command = Command::new("node");
    command.arg(tools().join(script)).args(args);
    run(command, stdin)
}

/// Runs `tsc` from `tests/schema-tools` with `args` in `dir`.
pub(crate) fn tsc(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("node");
    command
        .arg(tools().join("node_modules/typescript/bin/tsc"))
        .args(args)
        .current_dir(dir);
    run(command, "")
}

fn run(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {command:?} (Node.js 20 is needed): {err}"));
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

/// Stdout as text, after asserting the process succeeded.
pub(crate) fn success(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The quickstart binary, built once per test run with the cargo that runs the tests.
pub(crate) fn quickstart() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "example-quickstart",
                "--bin",
                "example-quickstart",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(workspace)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let messages = success(&output, "cargo build -p example-quickstart");
        messages
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["target"]["name"] == "example-quickstart")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the quickstart executable")
    })
}

/// Runs `example-quickstart schema <args>` as its own process and returns stdout.
pub(crate) fn quickstart_schema(args: &[&str]) -> String {
    let output = Command::new(quickstart())
        .arg("schema")
        .args(args)
        .env_remove("PORT")
        .output()
        .unwrap();
    success(
        &output,
        &format!("example-quickstart schema {}", args.join(" ")),
    )
}

/// An empty directory for one test's files, under cargo's scratch directory for tests.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("schema")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Validates `document` (AsyncAPI) with `@asyncapi/parser`, its examples, and `messages`
/// (`[{"message": key, "payload": ..}]`) with Ajv; returns the report and whether the
/// validator succeeded.
pub(crate) fn validate_asyncapi(dir: &Path, document: &str, messages: &Value) -> (Value, bool) {
    let file = dir.join("asyncapi.json");
    std::fs::write(&file, document).unwrap();
    let list = dir.join("messages.json");
    std::fs::write(&list, messages.to_string()).unwrap();
    let output = node("validate-asyncapi.mjs", &[&file, &list], "");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "validate-asyncapi.mjs printed no report ({err}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.success())
}

/// Diagnostics of severity `error` in a `validate-asyncapi.mjs` report.
pub(crate) fn errors(report: &Value) -> Vec<&Value> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .collect()
}

/// Validates each `(pointer, instance)` against `bundle` with Ajv; returns whether each is
/// valid, in order.
pub(crate) fn ajv(bundle: &Value, cases: &[(String, Value)]) -> Vec<bool> {
    let cases: Vec<Value> = cases
        .iter()
        .map(|(pointer, data)| serde_json::json!({ "ref": pointer, "data": data }))
        .collect();
    let input = serde_json::json!({ "schema": bundle, "cases": cases });
    let output = node::<&str>("validate-json.mjs", &[], &input.to_string());
    let results: Value = serde_json::from_str(&success(&output, "validate-json.mjs")).unwrap();
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["valid"].as_bool().unwrap())
        .collect()
}

/// `beeflow-codegen` of the TypeScript client (`clients/typescript/bin/codegen.mjs`, built on
/// json-schema-to-typescript; installed by `scripts/test.sh`).
pub(crate) fn codegen() -> PathBuf {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/typescript");
    assert!(
        client.join("node_modules").is_dir(),
        "clients/typescript/node_modules is missing: run `bash scripts/test.sh`, which installs \
         it, or `npm ci --prefix clients/typescript`"
    );
    client.join("bin/codegen.mjs")
}

/// Generates TypeScript from `bundle` with `beeflow-codegen`.
pub(crate) fn typescript(bundle: &str) -> String {
    let dir = scratch("codegen-input");
    let file = dir.join("schema.json");
    std::fs::write(&file, bundle).unwrap();
    let mut command = Command::new("node");
    command.arg(codegen()).arg(&file);
    success(&run(command, ""), "beeflow-codegen")
}

/// Type-checks `files` in `dir` with `tsc --strict`.
pub(crate) fn type_check(dir: &Path, files: &[&str]) -> Output {
    let mut args = vec![
        "--noEmit",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        "--lib",
        "es2022,dom",
    ];
    args.extend_from_slice(files);
    tsc(dir, &args)
}
