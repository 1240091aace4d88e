use beeflow_core::action;

#[action(name = "")]
async fn echo() {}

fn main() {}
