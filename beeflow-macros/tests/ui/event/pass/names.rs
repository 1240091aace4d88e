//! The event name defaults to the type's name; `name` overrides it; enums work.

use beeflow_core::{Event, Registry};
use serde::Serialize;

#[derive(Serialize, schemars::JsonSchema, Event)]
struct UserJoined {
    user: String,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "chat_message")]
struct ChatMessage {
    text: String,
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "presence")]
#[serde(tag = "kind")]
enum Presence {
    Online { user: String },
    Offline { user: String },
}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[allow(non_camel_case_types)]
struct r#type {
    value: u8,
}

fn main() {
    assert_eq!(<UserJoined as Event>::NAME, "UserJoined");
    assert_eq!(<ChatMessage as Event>::NAME, "chat_message");
    assert_eq!(<Presence as Event>::NAME, "presence");
    assert_eq!(<r#type as Event>::NAME, "type");
    let registry = Registry::global().unwrap();
    let def = registry.event("chat_message").unwrap();
    assert_eq!(def.payload_type, concat!(module_path!(), "::ChatMessage"));
    assert!(def.location.file.ends_with("names.rs"));
    assert_eq!(def.location.line, 13);
    assert!(registry.event("UserJoined").is_some());
    assert!(registry.event("presence").is_some());
    let _ = Presence::Online { user: String::new() };
    let _ = Presence::Offline { user: String::new() };
}
