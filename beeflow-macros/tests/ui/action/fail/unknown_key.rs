use beeflow_core::action;

#[action(name = "echo", rename = "x")]
async fn echo() {}

fn main() {}
