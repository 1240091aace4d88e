//! Component keys: AsyncAPI allows only `[A-Za-z0-9._-]` in the keys of `components`, while
//! action, event and type names may hold anything.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::generate;

/// Characters AsyncAPI allows in component keys are kept, others become `_`.
fn sanitize(name: &str) -> String {
    let key: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    if key.is_empty() { "_".to_owned() } else { key }
}

/// `prefix` + the sanitized name, suffixed `_2`, `_3`, ... if sanitizing made it collide.
pub(crate) fn unique_key(taken: &mut BTreeSet<String>, prefix: &str, name: &str) -> String {
    let base = format!("{prefix}{}", sanitize(name));
    let key = std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}_{n}")))
        .find(|key| !taken.contains(key))
        .expect("an unused key exists");
    taken.insert(key.clone());
    key
}

/// Renames definitions whose names AsyncAPI does not allow as component keys; returns the
/// `$ref` rewrites, already applied inside the definitions.
pub(crate) fn sanitize_definitions(
    definitions: &mut Map<String, Value>,
    prefix: &str,
) -> BTreeMap<String, String> {
    let mut taken: BTreeSet<String> = definitions.keys().cloned().collect();
    let mut refs = BTreeMap::new();
    let mut renamed = Map::new();
    for (name, schema) in std::mem::take(definitions) {
        let key = if sanitize(&name) == name {
            name
        } else {
            let key = unique_key(&mut taken, "", &name);
            refs.insert(
                generate::ref_to(prefix, &name),
                generate::ref_to(prefix, &key),
            );
            key
        };
        renamed.insert(key, schema);
    }
    for schema in renamed.values_mut() {
        generate::rewrite_refs(schema, &refs);
    }
    *definitions = renamed;
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sanitized_and_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(unique_key(&mut taken, "action.", "echo"), "action.echo");
        assert_eq!(
            unique_key(&mut taken, "action.", "chat/send"),
            "action.chat_send"
        );
        assert_eq!(
            unique_key(&mut taken, "action.", "chat send"),
            "action.chat_send_2"
        );
        assert_eq!(unique_key(&mut taken, "event.", ""), "event._");
    }

    #[test]
    fn definition_names_become_component_keys() {
        let mut defs = Map::new();
        defs.insert(
            "Wrapper<Item>".into(),
            json!({"$ref": "#/components/schemas/Item"}),
        );
        defs.insert("Item".into(), json!({"type": "object"}));
        defs.insert(
            "Uses".into(),
            json!({"$ref": "#/components/schemas/Wrapper%3CItem%3E"}),
        );
        let refs = sanitize_definitions(&mut defs, "#/components/schemas/");
        assert!(defs.contains_key("Wrapper_Item_"));
        assert_eq!(
            defs["Uses"],
            json!({"$ref": "#/components/schemas/Wrapper_Item_"})
        );
        assert_eq!(refs.len(), 1);
    }
}
