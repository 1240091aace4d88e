use beeflow_core::action;

#[action(name = "echo")]
async extern "C" fn echo() {}

fn main() {}
