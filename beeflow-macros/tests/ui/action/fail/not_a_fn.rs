use beeflow_core::action;

#[action(name = "echo")]
pub struct Echo;

fn main() {}
