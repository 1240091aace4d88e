//! The AsyncAPI 3.0 document: one channel (the WebSocket endpoint), one message per action
//! and per event plus the problem message, and operations written, as AsyncAPI 3 requires,
//! from the application's (the server's) point of view: it *receives* each action (with the
//! events and problems it can reply with) and *sends* events and problems.
//!
//! Payload schemas use AsyncAPI's default schema format (a superset of JSON Schema draft
//! 07), so schemars runs with its draft 07 settings and puts named types under
//! `#/components/schemas`.

use std::collections::BTreeSet;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::envelope;
use super::generate::{self, resolve};
use super::info::AsyncApiInfo;
use super::keys::{sanitize_definitions, unique_key};
use crate::handshake::ACCESS_TOKEN_PROTOCOL;
use crate::problem::{Problem, ProblemTypeBase};
use crate::registry::Registry;

/// The channel id of the WebSocket endpoint.
const CHANNEL: &str = "websocket";
const SECURITY_SCHEME: &str = "accessToken";
const CORRELATION_ID: &str = "reqId";

/// Fixed ids for examples, so the document is the same on every run.
const EXAMPLE_MSG_ID: &str = "0d7bc1f5-1b4d-4b8e-9a55-0e3c3f6f1a01";
const EXAMPLE_REQ_ID: &str = "0d7bc1f5-1b4d-4b8e-9a55-0e3c3f6f1a02";
const EXAMPLE_SERVER_MSG_ID: &str = "0d7bc1f5-1b4d-4b8e-9a55-0e3c3f6f1a03";
const EXAMPLE_CONNECTION_ID: &str = "0d7bc1f51b4d.1";

/// Builds the document; see [`Registry::asyncapi`].
pub(crate) fn asyncapi(registry: &Registry, info: &AsyncApiInfo) -> Value {
    let settings = SchemaSettings::draft07().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let prefix = generate::ref_prefix(&settings);
    let mut generated = generate::generate(registry, &settings);
    let refs = sanitize_definitions(&mut generated.definitions, &prefix);
    let definitions = &generated.definitions;
    let recipients: Vec<&str> = registry.resolvers().map(|def| def.name).collect();

    let mut keys = BTreeSet::new();
    let mut messages = Map::new();
    let mut received = Vec::new();
    let mut sent = Vec::new();
    for (def, mut payload) in generated.actions {
        generate::rewrite_refs(&mut payload, &refs);
        let target = resolve(&payload, definitions, &prefix);
        let examples = examples(target, |example| {
            json!({
                "msg_id": EXAMPLE_MSG_ID,
                "req_id": EXAMPLE_REQ_ID,
                "action": def.name,
                "payload": example,
            })
        });
        let description = Some(def.description)
            .filter(|d| !d.is_empty())
            .or_else(|| target["description"].as_str())
            .map(str::to_owned);
        let schema = envelope::action(name_const(def.name), payload);
        let key = unique_key(&mut keys, "action.", def.name);
        let message = message(def.name, "Action", description, schema, examples);
        messages.insert(key.clone(), message);
        received.push((key, def));
    }
    for (def, mut payload) in generated.events {
        generate::rewrite_refs(&mut payload, &refs);
        let target = resolve(&payload, definitions, &prefix);
        let examples = examples(target, |example| {
            json!({
                "msg_id": EXAMPLE_SERVER_MSG_ID,
                "req_id": EXAMPLE_REQ_ID,
                "seq": 1,
                "event": def.name,
                "recipient": crate::recipient::WEBSOCKET,
                "recipient_id": EXAMPLE_CONNECTION_ID,
                "payload": example,
            })
        });
        let description = target["description"].as_str().map(str::to_owned);
        let schema = envelope::event(name_const(def.name), payload, &recipients);
        let key = unique_key(&mut keys, "event.", def.name);
        let message = message(def.name, "Event", description, schema, examples);
        messages.insert(key.clone(), message);
        sent.push((def.name, key));
    }
    let problem = problem_message(info);
    messages.insert("problem".into(), problem);

    let channel_ref = json!({ "$ref": format!("#/channels/{CHANNEL}") });
    let message_ref = |key: &str| json!({ "$ref": format!("#/channels/{CHANNEL}/messages/{key}") });
    let mut operations = Map::new();
    // One operation per action, with what it can answer: the events it declares and the
    // problem message, and its own problem codes.
    for (key, def) in &received {
        let replies = (def.replies)();
        let mut reply_messages: Vec<Value> = replies
            .events
            .iter()
            .filter_map(|event| sent.iter().find(|(name, _)| name == event))
            .map(|(_, key)| message_ref(key))
            .collect();
        reply_messages.push(message_ref("problem"));
        let summary = match def.description.lines().next() {
            Some(line) if !line.is_empty() => line.to_owned(),
            _ => format!("Runs action `{}`.", def.name),
        };
        operations.insert(
            key.clone(),
            json!({
                "action": "receive",
                "channel": channel_ref,
                "summary": summary,
                "messages": [message_ref(key)],
                "reply": { "channel": channel_ref, "messages": reply_messages },
                "x-beeflow-problems": replies.problems,
            }),
        );
    }
    if !sent.is_empty() {
        let events: Vec<Value> = sent.iter().map(|(_, key)| message_ref(key)).collect();
        operations.insert(
            "sendEvent".into(),
            json!({
                "action": "send",
                "channel": channel_ref,
                "summary": "The server sends the events handlers produce (or the application \
                            pushes) to the connections their recipient resolves to.",
                "messages": events,
            }),
        );
    }
    operations.insert(
        "sendProblem".into(),
        json!({
            "action": "send",
            "channel": channel_ref,
            "summary": "The server answers a message or an action that failed with a problem.",
            "messages": [message_ref("problem")],
        }),
    );

    let channel_messages: Map<String, Value> = messages
        .keys()
        .map(|key| {
            let target = json!({ "$ref": format!("#/components/messages/{key}") });
            (key.clone(), target)
        })
        .collect();
    let mut document = json!({
        "asyncapi": "3.0.0",
        "info": info_object(info),
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": info.path,
                "title": "WebSocket endpoint",
                "description": "One JSON object per text frame. Clients send action \
                                envelopes; the server answers with event envelopes and RFC 9457 \
                                problems, correlated with the request by `req_id`. Operations \
                                are written from the server's point of view: it receives \
                                actions, and sends events and problems.",
                "messages": channel_messages,
            }
        },
        "operations": operations,
        "components": {
            "schemas": generated.definitions,
            "messages": messages,
            "securitySchemes": { SECURITY_SCHEME: security_scheme() },
            "correlationIds": {
                CORRELATION_ID: {
                    "description": "The client's `req_id`: every event and problem a request \
                                    produces carries it.",
                    "location": "$message.payload#/req_id",
                }
            },
        },
    });
    if !info.servers.is_empty() {
        document["servers"] = servers(info);
    }
    document
}

fn info_object(info: &AsyncApiInfo) -> Value {
    let mut object = json!({ "title": info.title, "version": info.version });
    if let Some(description) = &info.description {
        object["description"] = description.as_str().into();
    }
    object
}

fn servers(info: &AsyncApiInfo) -> Value {
    let security = json!([{ "$ref": format!("#/components/securitySchemes/{SECURITY_SCHEME}") }]);
    let servers: Map<String, Value> = info
        .servers
        .iter()
        .map(|(name, server)| {
            let mut object = json!({
                "host": server.host,
                "protocol": server.protocol,
                "security": security,
            });
            if let Some(description) = &server.description {
                object["description"] = description.as_str().into();
            }
            (name.clone(), object)
        })
        .collect();
    Value::Object(servers)
}

fn security_scheme() -> Value {
    json!({
        "type": "httpApiKey",
        "name": "Sec-WebSocket-Protocol",
        "in": "header",
        "description": format!(
            "The upgrade request offers two WebSocket subprotocols: the marker \
             `{ACCESS_TOKEN_PROTOCOL}`, then the token (`new WebSocket(url, \
             [\"{ACCESS_TOKEN_PROTOCOL}\", token])`, i.e. the header `Sec-WebSocket-Protocol: \
             {ACCESS_TOKEN_PROTOCOL}, <token>`). The server selects only \
             `{ACCESS_TOKEN_PROTOCOL}` in its response and never echoes the token. A rejected \
             upgrade is an `application/problem+json` HTTP response (401 or 403). Whether \
             guests may connect without a token is up to the application."
        ),
    })
}

/// A message object.
fn message(
    name: &str,
    kind: &str,
    description: Option<String>,
    payload: Value,
    examples: Vec<Value>,
) -> Value {
    let mut message = json!({
        "name": name,
        "title": format!("{kind} {name}"),
        "contentType": "application/json",
        "correlationId": { "$ref": format!("#/components/correlationIds/{CORRELATION_ID}") },
        "payload": payload,
    });
    if let Some(description) = description {
        message["description"] = description.into();
    }
    if !examples.is_empty() {
        message["examples"] = examples.into();
    }
    message
}

fn problem_message(info: &AsyncApiInfo) -> Value {
    let example = |problem: &Problem, req_id: Option<&str>| {
        let mut payload = json!({
            "msg_id": EXAMPLE_SERVER_MSG_ID,
            "type": ProblemTypeBase::default().type_for(problem.slug()),
            "title": problem.title(),
            "status": problem.status(),
            "detail": problem.detail(),
            "code": problem.code(),
            "instance": info.path,
        });
        if let Some(req_id) = req_id {
            payload["req_id"] = req_id.into();
        }
        json!({ "name": problem.code(), "payload": payload })
    };
    let examples = vec![
        example(&Problem::invalid_websocket_message(), None),
        example(
            &Problem::unknown_websocket_action("MissingAction"),
            Some(EXAMPLE_REQ_ID),
        ),
    ];
    message(
        "problem",
        "Problem",
        Some(
            "An RFC 9457 Problem Details message. `code` says what failed; `req_id` names the \
             request when one could be read from the failing message."
                .to_owned(),
        ),
        envelope::problem(),
        examples,
    )
}

/// The `action` or `event` member of one message: exactly its name.
fn name_const(name: &str) -> Value {
    json!({ "type": "string", "const": name })
}

/// One example message per example the payload type declares (`#[schemars(example = ..)]`).
fn examples(target: &Value, envelope: impl Fn(&Value) -> Value) -> Vec<Value> {
    let Some(examples) = target.get("examples").and_then(Value::as_array) else {
        return Vec::new();
    };
    examples
        .iter()
        .map(|example| json!({ "payload": envelope(example) }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_make_a_complete_document() {
        let registry = Registry::builder().build().unwrap();
        let info = AsyncApiInfo::new("t", "1").with_server("local", super::super::Server::ws("h"));
        let doc = asyncapi(&registry, &info);
        assert_eq!(doc["asyncapi"], "3.0.0");
        assert_eq!(doc["channels"]["websocket"]["address"], "/ws/");
        let messages = &doc["components"]["messages"];
        assert_eq!(messages["action.health"]["name"], "health");
        assert_eq!(
            messages["event.health"]["payload"]["properties"]["payload"],
            json!({"$ref": "#/components/schemas/Health"})
        );
        let health = &doc["operations"]["action.health"];
        assert_eq!(health["action"], "receive");
        assert_eq!(
            health["reply"]["messages"],
            json!([
                {"$ref": "#/channels/websocket/messages/event.health"},
                {"$ref": "#/channels/websocket/messages/problem"},
            ])
        );
        // Version 2's built-ins are operations and messages like any other.
        let subscribe = &doc["operations"]["action.beeflow.subscribe"];
        assert_eq!(
            subscribe["reply"]["messages"],
            json!([
                {"$ref": "#/channels/websocket/messages/event.beeflow.presence"},
                {"$ref": "#/channels/websocket/messages/problem"},
            ])
        );
        assert_eq!(
            subscribe["x-beeflow-problems"],
            json!([
                "invalid_topic",
                "subscription_denied",
                "too_many_subscriptions",
                "presence_unavailable"
            ])
        );
        for event in ["beeflow.join", "beeflow.leave", "beeflow.presence"] {
            assert_eq!(messages[format!("event.{event}")]["name"], event);
        }
        assert_eq!(doc["operations"]["sendEvent"]["action"], "send");
        assert_eq!(messages["problem"]["examples"].as_array().unwrap().len(), 2);
        assert_eq!(
            doc["servers"]["local"]["security"][0]["$ref"],
            "#/components/securitySchemes/accessToken"
        );
    }
}
