use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
struct Wrapper<T> {
    value: T,
}

fn main() {}
