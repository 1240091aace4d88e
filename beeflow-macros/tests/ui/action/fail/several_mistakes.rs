//! Every mistake is reported in one pass.
use beeflow_core::action;

#[action(name = "", colour = "red")]
fn echo<T>() {}

fn main() {}
