use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(droppable = true)]
struct Cursor {
    x: i32,
}

fn main() {}
