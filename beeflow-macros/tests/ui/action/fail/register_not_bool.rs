use beeflow_core::action;

#[action(name = "echo", register = "no")]
async fn echo() {}

fn main() {}
