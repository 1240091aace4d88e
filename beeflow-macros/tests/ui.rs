//! Compile-time behaviour of the macros: what they accept, and the one clear error each
//! mistake gives (`TRYBUILD=overwrite cargo test -p beeflow-macros --test ui` refreshes the
//! committed `.stderr` files).

#[rustversion::stable]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    for kind in ["action", "event", "recipient"] {
        t.pass(format!("tests/ui/{kind}/pass/*.rs"));
        t.compile_fail(format!("tests/ui/{kind}/fail/*.rs"));
    }
}
