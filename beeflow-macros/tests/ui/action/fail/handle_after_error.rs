//! A handler with a mistake still gets its type handle, so naming it adds no error.
use beeflow_core::action;

#[action(name = "echo")]
fn echo() {}

fn main() {
    let _ = beeflow_core::Registry::builder().action::<echo>();
}
