//! The quickstart's TypeScript types, written by the TypeScript client's `beeflow-codegen`
//! from the quickstart's `schema json`, and type-checked by `tsc` against a sample client.

use std::process::Command;

use crate::support::{codegen, quickstart_schema, scratch, tools, type_check, typescript};

#[test]
fn generated_types_type_check_against_the_sample_client() {
    let dir = scratch("typescript");
    let bundle = dir.join("schema.json");
    quickstart_schema(&["json", "--out", bundle.to_str().unwrap()]);
    let file = dir.join("beeflow.ts");
    let status = Command::new("node")
        .arg(codegen())
        .arg(&bundle)
        .arg("--out")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success(), "beeflow-codegen --out failed");
    let types = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        types,
        typescript(&quickstart_schema(&["json"])),
        "--out writes what stdout gets"
    );
    for declaration in [
        "export interface Actions {",
        "export interface Events {",
        "export interface EchoRequest {",
        "export interface Tick {",
        "export interface ActionEnvelope {",
        "export interface ProblemEnvelope {",
        "export interface Api {",
    ] {
        assert!(
            types.contains(declaration),
            "{declaration} missing:\n{types}"
        );
    }
    assert!(
        types.contains("   * Steps left; 0 is the last event.\n"),
        "{types}"
    );

    std::fs::copy(
        tools().join("sample-client.ts"),
        dir.join("sample-client.ts"),
    )
    .unwrap();
    let output = type_check(&dir, &["sample-client.ts", "beeflow.ts"]);
    assert!(
        output.status.success(),
        "tsc:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `tsc` really checks: a client sending a wrong payload does not compile.
#[test]
fn a_client_misusing_the_types_fails_to_type_check() {
    let dir = scratch("typescript-misuse");
    std::fs::write(
        dir.join("beeflow.ts"),
        typescript(&quickstart_schema(&["json"])),
    )
    .unwrap();
    std::fs::write(
        dir.join("client.ts"),
        "import type { Actions } from \"./beeflow\";\n\
         export const countdown: Actions[\"countdown\"] = { from: \"3\" };\n",
    )
    .unwrap();
    let output = type_check(&dir, &["client.ts", "beeflow.ts"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("client.ts(2,"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
