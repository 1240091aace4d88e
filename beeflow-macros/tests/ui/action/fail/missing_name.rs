use beeflow_core::action;

#[action]
async fn unnamed() {}

fn main() {}
