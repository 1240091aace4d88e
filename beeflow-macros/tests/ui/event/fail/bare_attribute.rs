use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event]
struct Joined {
    user: String,
}

fn main() {}
