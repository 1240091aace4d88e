use beeflow_core::action;

#[action(register = false)]
async fn unnamed() {}

fn main() {}
