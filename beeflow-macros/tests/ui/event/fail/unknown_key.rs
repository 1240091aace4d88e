use beeflow_core::Event;

#[derive(serde::Serialize, schemars::JsonSchema, Event)]
#[event(rename = "joined")]
struct Joined {
    user: String,
}

fn main() {
    assert_eq!(<Joined as Event>::NAME, "Joined");
}
