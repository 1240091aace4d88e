//! Payloads checked against the JSON Schema the registry publishes for them, so one
//! annotation (`#[schemars(length(max = 100))]`) both documents and enforces a rule.
//!
//! Each action's schema is generated as the schema export generates it (draft 2020-12, for
//! deserializing) and compiled once, when the dispatcher is built. A request's payload is
//! checked before the handler decodes it; a failure is the same `invalid_action_payload`
//! (422) a decoding failure gives, naming the path.

// Looked up once or twice per request by a registered name: a fast hash, not SipHash.
use foldhash::HashMap;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use schemars::generate::SchemaSettings;
use serde::Deserialize;
use serde_json::Value;

use crate::action::ActionDef;
use crate::problem::Problem;
use crate::registry::Registry;

/// The compiled payload schemas of one registry's actions, by action name. Actions that
/// accept any object have none.
pub(crate) struct PayloadValidators {
    by_action: HashMap<&'static str, jsonschema::Validator>,
}

/// An action whose payload schema does not compile.
#[derive(Debug)]
pub(crate) struct SchemaError {
    pub(crate) action: &'static str,
    pub(crate) reason: String,
}

impl PayloadValidators {
    /// No validation at all.
    pub(crate) fn off() -> Self {
        Self {
            by_action: HashMap::default(),
        }
    }

    /// Compiles the payload schema of every action of `registry` that has one.
    pub(crate) fn compile(registry: &Registry) -> Result<Self, SchemaError> {
        let mut by_action = HashMap::default();
        for def in registry.actions() {
            let schema = standalone_schema(def);
            if schema == serde_json::json!({ "type": "object" }) {
                // The envelope parser already made sure the payload is an object.
                continue;
            }
            let validator = jsonschema::draft202012::new(&schema).map_err(|error| SchemaError {
                action: def.name,
                reason: error.to_string(),
            })?;
            by_action.insert(def.name, validator);
        }
        Ok(Self { by_action })
    }

    /// Checks `payload` (the raw JSON of an object) against the schema of `action`.
    pub(crate) fn check(&self, action: &str, payload: &str) -> Result<(), Problem> {
        let Some(validator) = self.by_action.get(action) else {
            return Ok(());
        };
        // A payload that is not a JSON value serde can read is left to the handler's own
        // decoding, which names the failure the way it always has.
        let Some(value) = parse(payload) else {
            return Ok(());
        };
        let validate = move || match validator.validate(&value) {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = most_specific(&error);
                let path = dotted(error.instance_path().as_str());
                Err(Problem::invalid_action_payload(
                    action,
                    &path,
                    &error.to_string(),
                ))
            }
        };
        // The validator (and dropping the value) recurse once per level: a deep payload gets
        // a stack of its own, sized for its depth, instead of overflowing the task's.
        // Each level takes an opening and a closing bracket, so a short payload cannot be
        // deep: only longer ones are scanned.
        let depth = if payload.len() <= 2 * SHALLOW {
            0
        } else {
            nesting_depth(payload)
        };
        if depth <= SHALLOW {
            validate()
        } else {
            stacker::grow(depth * STACK_PER_LEVEL, validate)
        }
    }
}

/// The error to report for `error`: for an `anyOf`/`oneOf` that failed (an `Option<T>`
/// field, an enum), the deepest error among its branches, since that names the rule that
/// failed inside the value ("`title` is longer than 100 characters") rather than the
/// alternatives of the outer one.
fn most_specific<'e, 'i>(error: &'e ValidationError<'i>) -> &'e ValidationError<'i> {
    let depth = |error: &ValidationError<'_>| error.instance_path().as_str().matches('/').count();
    let (ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context }) =
        error.kind()
    else {
        return error;
    };
    let deepest = context
        .iter()
        .flatten()
        .max_by_key(|inner| depth(inner))
        .filter(|inner| depth(inner) > depth(error));
    match deepest {
        Some(inner) => most_specific(inner),
        None => error,
    }
}

/// Payloads at most this deep are validated on the caller's stack.
const SHALLOW: usize = 32;

/// Stack to give a deep payload's validation per level of nesting. For 1,000 levels in a
/// debug build, 2 KiB per level overflowed and 3 KiB sufficed; the rest is margin (the
/// memory is only reserved, and only for payloads deeper than [`SHALLOW`]).
const STACK_PER_LEVEL: usize = 16 << 10;

/// How deep arrays and objects nest in `json`, counted outside strings.
fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The payload schema of `def` with its definitions inlined under `$defs`, so it stands
/// alone.
fn standalone_schema(def: &ActionDef) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut schema = (def.payload_schema)(&mut generator).to_value();
    let definitions = generator.take_definitions(true);
    if !definitions.is_empty()
        && let Some(object) = schema.as_object_mut()
    {
        object.insert("$defs".to_owned(), Value::Object(definitions));
    }
    schema
}

/// Parses a payload as deep as the envelope allows it to be (serde_json's own recursion
/// limit is lower), growing the stack as the handler's decoding does.
fn parse(payload: &str) -> Option<Value> {
    let mut json = serde_json::Deserializer::from_str(payload);
    json.disable_recursion_limit();
    let deserializer = serde_stacker::Deserializer::new(&mut json);
    Value::deserialize(deserializer).ok()
}

/// A JSON Pointer (`/items/0/title`) as the dotted path decoding errors use
/// (`items.0.title`); the payload itself is `.`.
fn dotted(pointer: &str) -> String {
    if pointer.is_empty() {
        return ".".to_owned();
    }
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::{dotted, nesting_depth};

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(nesting_depth("{}"), 1);
        assert_eq!(nesting_depth(r#"{"a":[1,{"b":[]}]}"#), 4);
        assert_eq!(nesting_depth(r#"{"a":"[[[{{{"}"#), 1);
        assert_eq!(nesting_depth(r#"{"a":"\"[[["}"#), 1);
    }

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(dotted(""), ".");
        assert_eq!(dotted("/title"), "title");
        assert_eq!(dotted("/items/0/title"), "items.0.title");
        assert_eq!(dotted("/a~1b/c~0d"), "a/b.c~d");
    }
}
