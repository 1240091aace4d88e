//! `crate = path` for a renamed core, with the helper attribute split in two.

use beeflow_core as bf;

#[derive(serde::Serialize, schemars::JsonSchema, bf::Event)]
#[event(crate = bf)]
#[event(name = "renamed", register = false)]
struct Renamed {
    n: u8,
}

fn main() {
    assert_eq!(<Renamed as bf::Event>::NAME, "renamed");
}
