//! Schemas for clients, generated from the registry: a JSON Schema bundle and an AsyncAPI 3.0
//! document.
//!
//! Every action payload type and event payload type derives `schemars::JsonSchema`, and
//! their `///` docs become `description`s; an action's own doc comment describes its
//! message. Both documents are deterministic: names are sorted, `$ref`s are stable, and
//! [`render`] gives the same bytes on every run.
//!
//! - [`Registry::json_schema_bundle`]: one JSON Schema (draft 2020-12). `properties.actions`
//!   maps each action name to its payload schema, `properties.events` each event name, and
//!   `properties.envelopes` holds the action, event and problem envelopes; named types are
//!   under `$defs`. Action payloads are described as they are *deserialized*, event payloads
//!   as they are *serialized*.
//! - [`Registry::asyncapi`]: the WebSocket endpoint as one channel, with a message per
//!   action and per event (the payload schema embedded in its envelope, examples where the
//!   type declares them with `#[schemars(example = ..)]`), the problem message, correlation
//!   by `req_id`, and the `access-token` subprotocol as the security scheme.
//! - [`Documents`]: both, rendered once, for an adapter's HTTP route.
//!
//! ```
//! use beeflow_core::Registry;
//! use beeflow_core::schema::{AsyncApiInfo, Server, render};
//!
//! let registry = Registry::builder().build().unwrap();
//! let info = AsyncApiInfo::new("Demo", "1.0.0").with_server("local", Server::ws("127.0.0.1:3000"));
//! let asyncapi = render(&registry.asyncapi(&info));
//! assert_eq!(asyncapi, render(&registry.asyncapi(&info)));
//! let bundle = registry.json_schema_bundle();
//! assert!(bundle["properties"]["actions"]["properties"]["health"].is_object());
//! ```

mod asyncapi;
mod bundle;
mod documents;
mod envelope;
mod generate;
mod info;
mod keys;

use serde_json::Value;

pub use documents::{ASYNCAPI_DOCUMENT, Document, Documents, JSON_SCHEMA_DOCUMENT};
pub use info::{AsyncApiInfo, Server};

use crate::registry::Registry;

impl Registry {
    /// The JSON Schema bundle (draft 2020-12) of every action and event payload and the three
    /// envelopes; see the [`schema`](crate::schema) module. Object members are sorted.
    pub fn json_schema_bundle(&self) -> Value {
        let mut bundle = bundle::bundle(self);
        bundle.sort_all_objects();
        bundle
    }

    /// The AsyncAPI 3.0 document of this registry's WebSocket endpoint, with the title,
    /// version, path and servers from `info`; see the [`schema`](crate::schema) module.
    /// Object members are sorted.
    pub fn asyncapi(&self, info: &AsyncApiInfo) -> Value {
        let mut document = asyncapi::asyncapi(self, info);
        document.sort_all_objects();
        document
    }
}

/// Renders a document as pretty-printed JSON (two-space indent) with object members sorted
/// and a final newline: the same value always gives the same bytes.
pub fn render(document: &Value) -> String {
    let mut sorted = document.clone();
    sorted.sort_all_objects();
    let mut text = serde_json::to_string_pretty(&sorted).expect("a JSON value always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_sorts_members_and_ends_with_a_newline() {
        let text = render(&json!({"b": 1, "a": {"d": [], "c": null}}));
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": null,\n    \"d\": []\n  },\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn output_is_identical_across_calls() {
        let registry = Registry::builder().build().unwrap();
        let info = AsyncApiInfo::new("t", "1");
        assert_eq!(
            render(&registry.asyncapi(&info)),
            render(&registry.asyncapi(&info))
        );
        assert_eq!(
            render(&registry.json_schema_bundle()),
            render(&registry.json_schema_bundle())
        );
    }
}
