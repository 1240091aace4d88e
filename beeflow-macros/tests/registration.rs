//! Registrations the macros generate: global submissions, explicit registries, locations
//! and descriptions.

use beeflow_core::handler::{Action, Resolver};
use beeflow_core::registry::RegistryError;
use beeflow_core::{ConnectionId, Event, Registry, action, recipient};
use serde::{Deserialize, Serialize};

/// Echoes the text back.
///
/// With an optional count.
#[action(name = "echo", register = false)]
async fn echo(payload: EchoPayload) {
    let _ = payload.text;
}

#[derive(Deserialize, schemars::JsonSchema)]
struct EchoPayload {
    text: String,
}

#[action(name = "unit", register = false)]
async fn unit() {}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "local", register = false)]
struct Local {}

#[recipient(name = "team", register = false)]
async fn team(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

/// A global registration: no `register = false`.
#[action(name = "macros_registration_global")]
async fn global_action() {}

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(name = "macros_registration_global_event")]
struct GlobalEvent {}

#[recipient(name = "macros_registration_global_recipient")]
async fn global_recipient(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

#[action(name = "dup", register = false)]
async fn dup_one() {}

#[action(name = "dup", register = false)]
async fn dup_two() {}

#[test]
fn global_registrations_reach_the_global_registry() {
    let registry = Registry::global().unwrap();
    let action = registry.action("macros_registration_global").unwrap();
    assert_eq!(
        action.description,
        "A global registration: no `register = false`."
    );
    assert_eq!(action.location.module, module_path!());
    assert!(registry.event("macros_registration_global_event").is_some());
    assert!(
        registry
            .resolver("macros_registration_global_recipient")
            .is_some()
    );
    // `register = false` items stay out.
    assert!(registry.action("echo").is_none());
    assert!(registry.event("local").is_none());
    assert!(registry.resolver("team").is_none());
    let _ = (global_action, GlobalEvent {}, global_recipient, Local {});
}

#[test]
fn a_duplicate_action_name_names_both_locations() {
    let err = Registry::builder()
        .action::<dup_one>()
        .action::<dup_two>()
        .build()
        .unwrap_err();
    let RegistryError::Duplicate {
        kind,
        name,
        first,
        second,
    } = err.clone()
    else {
        panic!("{err:?}");
    };
    assert_eq!((kind, name), ("action", "dup"));
    assert_eq!(first, <dup_one as Action>::DEF.location);
    assert_eq!(second, <dup_two as Action>::DEF.location);
    assert!(first.file.ends_with("registration.rs"), "{first}");
    assert_eq!(first.module, module_path!());
    assert_eq!(second.line, first.line + 3);
    let message = err.to_string();
    assert!(message.contains(&first.to_string()), "{message}");
    assert!(message.contains(&second.to_string()), "{message}");
}

#[test]
fn doc_comments_become_the_description() {
    let def = <echo as Action>::DEF;
    assert_eq!(
        def.description,
        "Echoes the text back.\n\nWith an optional count."
    );
    assert_eq!(def.name, "echo");
    assert_eq!(def.payload_type, "EchoPayload");
    assert_eq!(<unit as Action>::DEF.description, "");
    assert_eq!(<unit as Action>::DEF.payload_type, "object");
    assert_eq!(<team as Resolver>::DEF.name, "team");
}

#[test]
fn the_payload_schema_is_the_payload_types() {
    let mut generator = schemars::SchemaGenerator::default();
    let schema = (<echo as Action>::DEF.payload_schema)(&mut generator);
    let reference = schema.as_value()["$ref"].as_str().unwrap().to_owned();
    assert!(reference.ends_with("EchoPayload"), "{reference}");
    let definitions = generator.take_definitions(true);
    assert!(definitions["EchoPayload"]["properties"]["text"].is_object());
}

/// An event named in the reserved namespace by hand, without the macro (which refuses it).
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Impostor {}

impl beeflow_core::Event for Impostor {
    const NAME: &'static str = "beeflow.subscribed";
}

#[test]
fn the_beeflow_namespace_is_reserved() {
    let error = Registry::builder().event::<Impostor>().build().unwrap_err();
    assert!(
        matches!(
            error,
            beeflow_core::registry::RegistryError::Reserved {
                name: "beeflow.subscribed",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("reserved"), "{error}");
}
