use beeflow_core::Event;

#[derive(schemars::JsonSchema, Event)]
struct Joined {
    user: String,
}

fn main() {}
