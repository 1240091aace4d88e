use beeflow_core::action;

#[action(name = "sync")]
fn sync() {}

fn main() {}
