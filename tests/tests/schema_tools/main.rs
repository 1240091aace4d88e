//! Schema export end to end: the quickstart's AsyncAPI document, JSON Schema bundle and the
//! TypeScript types `beeflow-codegen` makes of it, checked by the tools their users run —
//! `@asyncapi/parser`, Ajv and `tsc` (Node.js, installed into `tests/schema-tools` and
//! `clients/typescript` by `scripts/test.sh`) — never by our own code. Nothing here skips
//! when Node is missing.

mod asyncapi;
mod frames;
mod json;
mod new_action;
mod support;
mod typescript;

use support::quickstart_schema;

/// Two separate processes of the quickstart command write the same bytes.
#[test]
fn output_is_byte_identical_across_runs() {
    for kind in ["asyncapi", "json"] {
        let first = quickstart_schema(&[kind]);
        let second = quickstart_schema(&[kind]);
        assert!(first.len() > 1000, "{kind}: {first}");
        assert!(first == second, "`schema {kind}` differs between two runs");
    }
}
