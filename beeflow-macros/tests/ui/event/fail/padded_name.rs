use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "joined\n")]
struct Joined {
    user: String,
}

fn main() {}
