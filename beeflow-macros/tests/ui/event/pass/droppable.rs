use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(name = "cursor", droppable, register = false)]
struct Cursor {
    x: i32,
}

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(register = false)]
struct Chat {
    text: String,
}

fn main() {
    const { assert!(<Cursor as Event>::DROPPABLE) };
    const { assert!(!<Chat as Event>::DROPPABLE) };
    let _ = (Cursor { x: 1 }.x, Chat { text: String::new() }.text);
}
