use beeflow_core::action;

#[action(name = " echo ")]
async fn echo() {}

fn main() {}
