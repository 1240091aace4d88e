use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "joined")]
#[event(name = "user_joined")]
struct Joined {
    user: String,
}

fn main() {}
