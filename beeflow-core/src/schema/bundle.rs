//! The JSON Schema bundle (draft 2020-12): one document holding every payload schema keyed
//! by action and event name, the three envelopes, and the named types under `$defs`.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::{envelope, generate};
use crate::action::Replies;
use crate::registry::Registry;

/// Builds the bundle; see [`Registry::json_schema_bundle`].
pub(crate) fn bundle(registry: &Registry) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| s.meta_schema = None);
    let generated = generate::generate(registry, &settings);

    let mut actions = Map::new();
    let mut replies = Map::new();
    for (def, schema) in generated.actions {
        actions.insert(def.name.into(), describe(schema, def.description));
        replies.insert(def.name.into(), reply_schema(&(def.replies)()));
    }
    let mut events = Map::new();
    for (def, schema) in generated.events {
        events.insert(def.name.into(), schema);
    }
    let recipients: Vec<&str> = registry.resolvers().map(|def| def.name).collect();

    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Beeflow",
        "description": "The JSON Schemas of a beeflow server (wire protocol 1). This root \
                        schema is a catalogue, not a message: `actions` maps each action name \
                        to its payload, `events` each event name to its payload, `replies` \
                        each action name to the events and problem codes it can answer with, \
                        and `envelopes` holds the action, event and problem envelopes that \
                        carry them. Named payload types are under `$defs`.",
        "type": "object",
        "properties": {
            "actions": catalogue("Actions", "The payload of each action, by action name.", actions),
            "events": catalogue("Events", "The payload of each event, by event name.", events),
            "replies": catalogue(
                "Replies",
                "What each action can answer with, by action name: the events it can \
                 produce and the codes of the problems of its own it can fail with (any action \
                 can also get the problems of `docs/errors.md`, such as a rate limit).",
                replies,
            ),
            "envelopes": catalogue(
                "Envelopes",
                "The messages on the WebSocket.",
                envelopes(&recipients),
            ),
        },
        "required": ["actions", "envelopes", "events", "replies"],
        "additionalProperties": false,
    });
    if !generated.definitions.is_empty() {
        root["$defs"] = Value::Object(generated.definitions);
    }
    root
}

/// Adds an action's doc comment to its payload schema. A `$ref` is wrapped in `allOf`, so
/// the description belongs to the catalogue entry and the referenced type keeps its own
/// (code generators merge `$ref` siblings into the target).
fn describe(schema: Value, description: &str) -> Value {
    if description.is_empty() {
        return schema;
    }
    match schema {
        Value::Object(mut object) if !object.contains_key("$ref") => {
            object.insert("description".into(), description.into());
            Value::Object(object)
        }
        schema => json!({ "allOf": [schema], "description": description }),
    }
}

/// The `replies` entry of one action: two lists of names, each item one of `declared`.
fn reply_schema(replies: &Replies) -> Value {
    let list = |names: &[&str]| {
        if names.is_empty() {
            json!({ "type": "array", "maxItems": 0 })
        } else {
            json!({ "type": "array", "items": { "enum": names }, "uniqueItems": true })
        }
    };
    json!({
        "type": "object",
        "properties": {
            "events": list(&replies.events),
            "problems": list(&replies.problems),
        },
        "required": ["events", "problems"],
        "additionalProperties": false,
    })
}

/// An object schema with one required property per entry.
fn catalogue(title: &str, description: &str, entries: Map<String, Value>) -> Value {
    let required: Vec<&String> = entries.keys().collect();
    json!({
        "title": title,
        "description": description,
        "type": "object",
        "properties": entries,
        "required": required,
        "additionalProperties": false,
    })
}

fn envelopes(recipients: &[&str]) -> Map<String, Value> {
    let titled = |title: &str, mut schema: Value| {
        schema["title"] = title.into();
        schema
    };
    let mut map = Map::new();
    map.insert(
        "action".into(),
        titled(
            "ActionEnvelope",
            envelope::action(envelope::any_action_name(), envelope::any_payload()),
        ),
    );
    map.insert(
        "event".into(),
        titled(
            "EventEnvelope",
            envelope::event(
                envelope::any_event_name(),
                envelope::any_payload(),
                recipients,
            ),
        ),
    );
    map.insert(
        "problem".into(),
        titled("ProblemEnvelope", envelope::problem()),
    );
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_are_catalogued() {
        let registry = Registry::builder().build().unwrap();
        let bundle = bundle(&registry);
        let props = &bundle["properties"];
        let mut actions = vec![
            "beeflow.presence",
            "beeflow.recover",
            "beeflow.subscribe",
            "beeflow.unsubscribe",
            "health",
        ];
        let mut events = vec![
            "beeflow.join",
            "beeflow.leave",
            "beeflow.presence",
            "health",
        ];
        if cfg!(feature = "sync") {
            actions.insert(2, "beeflow.state.get");
            events.splice(3..3, ["beeflow.state.patch", "beeflow.state.snapshot"]);
        }
        assert_eq!(props["actions"]["required"], json!(actions));
        assert_eq!(props["events"]["required"], json!(events));
        let subscribe = &props["actions"]["properties"]["beeflow.subscribe"];
        assert_eq!(
            subscribe["allOf"],
            json!([{"$ref": "#/$defs/BeeflowSubscribe"}])
        );
        let payload = &bundle["$defs"]["BeeflowSubscribe"];
        assert_eq!(payload["required"], json!(["topic"]));
        assert_eq!(payload["additionalProperties"], json!(false));
        assert_eq!(
            props["actions"]["properties"]["health"]["type"],
            json!("object")
        );
        assert!(
            props["actions"]["properties"]["health"]["description"]
                .as_str()
                .unwrap()
                .contains("health")
        );
        assert_eq!(
            props["events"]["properties"]["health"],
            json!({"$ref": "#/$defs/Health"})
        );
        let health = &bundle["$defs"]["Health"];
        assert_eq!(health["required"], json!(["status"]));
        assert!(
            health["description"].is_string(),
            "doc comments flow through"
        );
        assert_eq!(
            props["envelopes"]["properties"]["event"]["properties"]["recipient"]["examples"],
            json!(registry.resolvers().map(|d| d.name).collect::<Vec<_>>())
        );
    }
}
