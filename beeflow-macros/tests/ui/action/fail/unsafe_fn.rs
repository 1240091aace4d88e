use beeflow_core::action;

#[action(name = "echo")]
async unsafe fn echo() {}

fn main() {}
