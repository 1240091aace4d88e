use beeflow_core::action;

#[action(name = "echo")]
const async fn echo() {}

fn main() {}
