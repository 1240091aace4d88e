use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = 1)]
struct Joined {
    user: String,
}

fn main() {}
