//! Runs schemars over a registry: action payloads as they are *deserialized*, event payloads
//! as they are *serialized*, with one shared set of named definitions.
//!
//! A type can describe itself differently per direction (`#[serde(default)]` makes a field
//! optional to read but it is always written), so each direction gets its own generator.
//! Their definitions are merged afterwards: a name both produce identically is kept once;
//! a name whose two schemas differ keeps the deserialize schema, and the serialize one is
//! renamed `<name>2` (or the next free number, as schemars itself does) with every
//! reference to it rewritten.

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::action::ActionDef;
use crate::event::EventDef;
use crate::registry::Registry;

/// The schemas of one registry: per action and per event (in name order) the payload schema,
/// usually a `$ref` into `definitions`.
pub(crate) struct Generated<'r> {
    pub(crate) actions: Vec<(&'r ActionDef, Value)>,
    pub(crate) events: Vec<(&'r EventDef, Value)>,
    pub(crate) definitions: Map<String, Value>,
}

/// Generates every payload schema of `registry` with `settings` (whose definitions path
/// decides what the `$ref`s look like).
pub(crate) fn generate<'r>(registry: &'r Registry, settings: &SchemaSettings) -> Generated<'r> {
    let prefix = ref_prefix(settings);
    let mut reader = settings.clone().for_deserialize().into_generator();
    let actions = registry
        .actions()
        .map(|def| (def, run(&mut reader, def.payload_schema)))
        .collect();
    let mut writer = settings.clone().for_serialize().into_generator();
    let mut events: Vec<(&EventDef, Value)> = registry
        .events()
        .map(|def| (def, run(&mut writer, def.payload_schema)))
        .collect();
    let mut definitions = reader.take_definitions(true);
    let written = writer.take_definitions(true);
    let renames = merge(&mut definitions, written, &prefix);
    for (_, schema) in &mut events {
        rewrite_refs(schema, &renames);
    }
    Generated {
        actions,
        events,
        definitions,
    }
}

/// The `$ref` prefix of a definition, e.g. `#/$defs/`.
pub(crate) fn ref_prefix(settings: &SchemaSettings) -> String {
    let path = settings.definitions_path.trim_start_matches('#');
    format!("#{}/", path.trim_end_matches('/'))
}

/// The `$ref` to definition `name` under `prefix`, encoded as schemars encodes it: a JSON
/// Pointer in URI-fragment form.
pub(crate) fn ref_to(prefix: &str, name: &str) -> String {
    let mut out = String::from(prefix);
    for byte in name.bytes() {
        match byte {
            b'~' => out.push_str("~0"),
            b'/' => out.push_str("~1"),
            b'!' | b'$' | b'&'..=b';' | b'=' | b'?'..=b'Z' | b'_' | b'a'..=b'z' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Follows `$ref`s into `definitions` (a few levels, enough for aliases) and returns the
/// schema they lead to.
pub(crate) fn resolve<'a>(
    mut schema: &'a Value,
    definitions: &'a Map<String, Value>,
    prefix: &str,
) -> &'a Value {
    for _ in 0..8 {
        let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let found = definitions
            .iter()
            .find(|(name, _)| ref_to(prefix, name) == target);
        match found {
            Some((_, next)) => schema = next,
            None => break,
        }
    }
    schema
}

/// Runs a registered schema function and applies the generator's transforms to its result,
/// as schemars does for root schemas and definitions.
fn run(generator: &mut SchemaGenerator, schema: fn(&mut SchemaGenerator) -> Schema) -> Value {
    let mut schema = schema(generator);
    for transform in generator.transforms_mut() {
        transform.transform(&mut schema);
    }
    schema.to_value()
}

/// Adds the serialize-side definitions `written` to `definitions`; returns the `$ref`
/// rewrites (old → new) the serialize-side schemas need.
fn merge(
    definitions: &mut Map<String, Value>,
    mut written: Map<String, Value>,
    prefix: &str,
) -> BTreeMap<String, String> {
    let mut taken: BTreeSet<String> = definitions.keys().chain(written.keys()).cloned().collect();
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    // Renaming one definition changes the schemas that refer to it, which may make them
    // differ in turn: repeat until nothing new differs.
    loop {
        let mut clash = None;
        for (name, schema) in &written {
            if renamed.contains_key(name) {
                continue;
            }
            if let Some(existing) = definitions.get(name) {
                let mut schema = schema.clone();
                rewrite_refs(&mut schema, &refs);
                if schema != *existing {
                    clash = Some(name.clone());
                    break;
                }
            }
        }
        let Some(name) = clash else { break };
        let fresh = (2..)
            .map(|n| format!("{name}{n}"))
            .find(|candidate| !taken.contains(candidate))
            .expect("an unused name exists");
        taken.insert(fresh.clone());
        refs.insert(ref_to(prefix, &name), ref_to(prefix, &fresh));
        renamed.insert(name, fresh);
    }
    for schema in written.values_mut() {
        rewrite_refs(schema, &refs);
    }
    for (name, schema) in written {
        match renamed.get(&name) {
            Some(fresh) => {
                definitions.insert(fresh.clone(), schema);
            }
            None => {
                definitions.entry(name).or_insert(schema);
            }
        }
    }
    refs
}

/// Replaces every `"$ref": old` in `value` by `"$ref": new`.
pub(crate) fn rewrite_refs(value: &mut Value, refs: &BTreeMap<String, String>) {
    if refs.is_empty() {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                match member {
                    Value::String(target) if key == "$ref" => {
                        if let Some(new) = refs.get(target.as_str()) {
                            target.clone_from(new);
                        }
                    }
                    _ => rewrite_refs(member, refs),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, refs)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_encoded_like_schemars() {
        assert_eq!(ref_to("#/$defs/", "Plain_1"), "#/$defs/Plain_1");
        assert_eq!(ref_to("#/$defs/", "a/b~c"), "#/$defs/a~1b~0c");
        assert_eq!(ref_to("#/$defs/", "Vec<u8> x"), "#/$defs/Vec%3Cu8%3E%20x");
        let settings = SchemaSettings::draft07().with(|s| {
            s.definitions_path = "/components/schemas/".into();
        });
        assert_eq!(ref_prefix(&settings), "#/components/schemas/");
        assert_eq!(ref_prefix(&SchemaSettings::draft2020_12()), "#/$defs/");
    }

    #[test]
    fn identical_definitions_are_shared_and_different_ones_renamed() {
        let mut read = Map::new();
        read.insert("Same".into(), json!({"type": "string"}));
        read.insert("Item".into(), json!({"required": []}));
        read.insert("Outer".into(), json!({"items": {"$ref": "#/$defs/Item"}}));
        let mut written = Map::new();
        written.insert("Same".into(), json!({"type": "string"}));
        written.insert("Item".into(), json!({"required": ["x"]}));
        // Differs only through its reference to the renamed `Item`.
        written.insert("Outer".into(), json!({"items": {"$ref": "#/$defs/Item"}}));
        written.insert("Only".into(), json!({"$ref": "#/$defs/Outer"}));
        let refs = merge(&mut read, written, "#/$defs/");
        assert_eq!(read["Same"], json!({"type": "string"}));
        assert_eq!(read["Item2"], json!({"required": ["x"]}));
        assert_eq!(read["Outer2"], json!({"items": {"$ref": "#/$defs/Item2"}}));
        assert_eq!(read["Outer"], json!({"items": {"$ref": "#/$defs/Item"}}));
        assert_eq!(read["Only"], json!({"$ref": "#/$defs/Outer2"}));
        assert_eq!(refs.len(), 2);
    }

    #[test]
    fn resolve_follows_refs() {
        let mut defs = Map::new();
        defs.insert("A".into(), json!({"$ref": "#/$defs/B"}));
        defs.insert("B".into(), json!({"type": "object", "examples": [{}]}));
        let schema = json!({"$ref": "#/$defs/A"});
        assert_eq!(resolve(&schema, &defs, "#/$defs/")["examples"], json!([{}]));
        let inline = json!({"type": "object"});
        assert_eq!(resolve(&inline, &defs, "#/$defs/"), &inline);
    }
}
