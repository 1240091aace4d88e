use beeflow_core::action;

#[action(name = "echo", name = "again")]
async fn echo() {}

fn main() {}
