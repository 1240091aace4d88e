use beeflow_core::action;

#[action(name = "echo", crate = 42)]
async fn echo() {}

fn main() {}
