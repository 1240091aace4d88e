//! Every Problem beeflow itself can send, each built here from one row of [`CATALOGUE`]:
//! its `code`, status, slug and title. `docs/errors.md` lists exactly these rows, and a test
//! keeps the two equal. Constructors are named after the `code` a client sees, so a code in
//! a client's log greps straight to the line that built it.
//!
//! Application problems are built with [`Problem::new`] and are not listed here.

use super::Problem;

/// What stays the same for every occurrence of one of beeflow's problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind {
    pub(crate) code: &'static str,
    pub(crate) status: u16,
    pub(crate) slug: &'static str,
    pub(crate) title: &'static str,
}

macro_rules! catalogue {
    ($($name:ident = $status:literal, $code:literal, $slug:literal, $title:literal;)*) => {
        $(const $name: Kind = Kind { code: $code, status: $status, slug: $slug, title: $title };)*

        /// Every problem beeflow sends, in the order `docs/errors.md` lists them.
        #[cfg(test)]
        const CATALOGUE: &[Kind] = &[$($name),*];
    };
}

// The slugs `invalid-message` and `unknown-action`, and every string of those two rows, are
// fixed by the wire protocol (`docs/protocol.md` §3); the other slugs are the code with
// hyphens.
catalogue! {
    INVALID_WEBSOCKET_MESSAGE = 400, "invalid_websocket_message", "invalid-message", "Invalid WebSocket message";
    UNKNOWN_WEBSOCKET_ACTION = 400, "unknown_websocket_action", "unknown-action", "Unknown WebSocket action";
    INVALID_ACTION_PAYLOAD = 422, "invalid_action_payload", "invalid-action-payload", "Invalid action payload";
    UNAUTHENTICATED = 401, "unauthenticated", "unauthenticated", "Authentication required";
    MISSING_STATE = 500, "missing_state", "missing-state", "Server misconfigured";
    IDENTITY_MISMATCH = 500, "identity_mismatch", "identity-mismatch", "Server misconfigured";
    MISSING_CONNECTION_STATE = 500, "missing_connection_state", "missing-connection-state", "Server misconfigured";
    CONNECT_HOOK_FAILED = 500, "connect_hook_failed", "connect-hook-failed", "Connection setup failed";
    ACTION_PANICKED = 500, "action_panicked", "action-panicked", "Action panicked";
    ACTION_FAILED = 500, "action_failed", "action-failed", "Action failed";
    EVENT_SERIALIZATION_FAILED = 500, "event_serialization_failed", "event-serialization-failed", "Event serialization failed";
    UNKNOWN_RECIPIENT_TYPE = 500, "unknown_recipient_type", "unknown-recipient-type", "Unknown recipient type";
    RECIPIENT_RESOLUTION_FAILED = 500, "recipient_resolution_failed", "recipient-resolution-failed", "Recipient resolution failed";
    REPLY_OUTSIDE_REQUEST = 500, "reply_outside_request", "reply-outside-request", "Event has no recipient";
    CONNECTION_NOT_FOUND = 404, "connection_not_found", "connection-not-found", "Connection not found";
    ORIGIN_NOT_ALLOWED = 403, "origin_not_allowed", "origin-not-allowed", "Origin not allowed";
    WEBSOCKET_UPGRADE_REQUIRED = 400, "websocket_upgrade_required", "websocket-upgrade-required", "WebSocket upgrade required";
    UNKNOWN_SCHEMA_DOCUMENT = 404, "unknown_schema_document", "unknown-schema-document", "Unknown schema document";
    RATE_LIMITED = 429, "rate_limited", "rate-limited", "Too many requests";
    TOO_MANY_CONNECTIONS = 429, "too_many_connections", "too-many-connections", "Too many connections";
    SERVER_FULL = 503, "server_full", "server-full", "Server full";
    SHUTTING_DOWN = 503, "shutting_down", "shutting-down", "Server shutting down";
    HANDSHAKE_TIMED_OUT = 408, "handshake_timed_out", "handshake-timed-out", "Handshake timed out";
    HEADERS_TOO_LARGE = 431, "headers_too_large", "headers-too-large", "Request headers too large";
    INVALID_TOPIC = 422, "invalid_topic", "invalid-topic", "Invalid topic";
    SUBSCRIPTION_DENIED = 403, "subscription_denied", "subscription-denied", "Subscription denied";
    TOO_MANY_SUBSCRIPTIONS = 429, "too_many_subscriptions", "too-many-subscriptions", "Too many subscriptions";
    PRESENCE_UNAVAILABLE = 503, "presence_unavailable", "presence-unavailable", "Presence unavailable";
    STATE_NOT_FOUND = 404, "state_not_found", "state-not-found", "Synced state not found";
    STATE_DENIED = 403, "state_denied", "state-denied", "Synced state denied";
    SESSION_NOT_FOUND = 404, "session_not_found", "session-not-found", "SSE session not found";
    SESSION_BUSY = 429, "session_busy", "session-busy", "SSE session busy";
    REQUEST_TOO_LARGE = 413, "request_too_large", "request-too-large", "Request too large";
    BROKER_UNAVAILABLE = 503, "broker_unavailable", "broker-unavailable", "Broker unavailable";
}

/// How much of a client's own text a Problem repeats back: at most this many characters,
/// then `…`, so an oversized name never makes an oversized reply.
const ECHO_LIMIT: usize = 100;

/// `text` as a problem shows it: cut to [`ECHO_LIMIT`] characters.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(ECHO_LIMIT) {
        None => std::borrow::Cow::Borrowed(text),
        Some((at, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..at])),
    }
}

/// The exact detail text of `invalid_websocket_message` (`docs/protocol.md` §3).
pub(crate) const INVALID_MESSAGE_DETAIL: &str = "Message must contain valid UUID 'msg_id' and 'req_id', \
     a non-empty 'action' string, and an object 'payload'.";

impl Problem {
    fn of(kind: Kind) -> Self {
        Self::new(kind.status, kind.code, kind.slug, kind.title)
    }

    /// `invalid_websocket_message` (400): the frame is not a valid action envelope.
    pub fn invalid_websocket_message() -> Self {
        Self::of(INVALID_WEBSOCKET_MESSAGE).with_detail(INVALID_MESSAGE_DETAIL)
    }

    /// `unknown_websocket_action` (400): no action is registered under `name` (trimmed;
    /// shown cut to 100 characters).
    pub fn unknown_websocket_action(name: &str) -> Self {
        Self::of(UNKNOWN_WEBSOCKET_ACTION).with_detail(format!(
            "No WebSocket action is registered under '{}'.",
            shown(name)
        ))
    }

    /// `invalid_action_payload` (422): the payload does not match the action's typed payload.
    /// `path` is the failing location inside the payload (`.` for the payload itself).
    /// The path and the reason are shown cut to 100 characters each, since serde repeats
    /// the client's values in them.
    pub fn invalid_action_payload(action: &str, path: &str, reason: &str) -> Self {
        Self::of(INVALID_ACTION_PAYLOAD).with_detail(format!(
            "The payload of action '{action}' is invalid at '{}': {}.",
            shown(path),
            shown(reason)
        ))
    }

    /// `unauthenticated` (401): no identity could be established for the upgrade request.
    /// Handlers that need one get the same problem with a detail about the action.
    pub fn unauthenticated() -> Self {
        Self::of(UNAUTHENTICATED)
            .with_detail("Send a valid token as the second subprotocol after 'access-token'.")
    }

    /// `missing_state` (500): a handler or resolver takes `State<T>` and the dispatcher was
    /// built without a value of that type; the detail names the type for the developer.
    pub fn missing_state(type_name: &str) -> Self {
        Self::of(MISSING_STATE).with_detail(format!(
            "Application state of type `{type_name}` is needed here, but the server does not \
             provide it."
        ))
    }

    /// `identity_mismatch` (500): a handler takes `Identity<T>` and the connection was
    /// authenticated as another type: the handshake policy and the handler disagree. The
    /// server logs both type names; the client learns none of them.
    pub fn identity_mismatch() -> Self {
        Self::of(IDENTITY_MISMATCH).with_detail(
            "This action expects another kind of identity than the server gave the connection.",
        )
    }

    /// `missing_connection_state` (500): a handler takes `ConnectionState<T>` and the
    /// connect hook stored no value of that type for the connection.
    pub fn missing_connection_state(type_name: &str) -> Self {
        Self::of(MISSING_CONNECTION_STATE).with_detail(format!(
            "Connection state of type `{type_name}` is needed here, but the server did not \
             set it up for this connection."
        ))
    }

    /// `connect_hook_failed` (500): the application's connect hook panicked; the connection
    /// is refused. The panic message is only logged.
    pub fn connect_hook_failed() -> Self {
        Self::of(CONNECT_HOOK_FAILED).with_detail("The server could not set up the connection.")
    }

    /// `action_panicked` (500): a handler panicked. The connection survives it.
    pub fn action_panicked() -> Self {
        Self::of(ACTION_PANICKED).with_detail("The action handler stopped unexpectedly.")
    }

    /// `action_failed` (500): a handler failed without saying how; no internals are
    /// exposed. beeflow never sends it on its own: it is for application errors that should
    /// stay opaque to clients.
    pub fn action_failed() -> Self {
        Self::of(ACTION_FAILED).with_detail("The action handler failed.")
    }

    /// `event_serialization_failed` (500): an event payload could not be serialized into a
    /// JSON object.
    pub fn event_serialization_failed(event: &str) -> Self {
        Self::of(EVENT_SERIALIZATION_FAILED).with_detail(format!(
            "The payload of event '{event}' could not be serialized as a JSON object."
        ))
    }

    /// `unknown_recipient_type` (500): an event named a recipient type nobody registered.
    pub fn unknown_recipient_type(kind: &str) -> Self {
        Self::of(UNKNOWN_RECIPIENT_TYPE).with_detail(format!(
            "No recipient type is registered under '{}'.",
            shown(kind)
        ))
    }

    /// `recipient_resolution_failed` (500): the resolver of a recipient type panicked.
    pub fn recipient_resolution_failed(kind: &str) -> Self {
        Self::of(RECIPIENT_RESOLUTION_FAILED)
            .with_detail(format!("The resolver of recipient type '{kind}' failed."))
    }

    /// `reply_outside_request` (500): an event addressed to "the requester" was delivered
    /// outside any request.
    pub fn reply_outside_request(event: &str) -> Self {
        Self::of(REPLY_OUTSIDE_REQUEST).with_detail(format!(
            "Event '{event}' was addressed to the requester, but it was sent from outside a \
             request."
        ))
    }

    /// `connection_not_found` (404): this node holds no connection with this id.
    pub fn connection_not_found(id: &str) -> Self {
        Self::of(CONNECTION_NOT_FOUND).with_detail(format!("This node holds no connection '{id}'."))
    }

    /// `origin_not_allowed` (403): the upgrade request's `Origin` is not allowed.
    pub fn origin_not_allowed(origin: &str) -> Self {
        Self::of(ORIGIN_NOT_ALLOWED).with_detail(format!(
            "WebSocket connections from origin '{}' are not allowed.",
            shown(origin)
        ))
    }

    /// `websocket_upgrade_required` (400 unless the transport says otherwise, e.g. 426): a
    /// request to the endpoint that cannot be upgraded, for the reason in `detail`.
    ///
    /// # Panics
    ///
    /// Panics if `status` is not in 400..=599, like [`Problem::new`].
    pub fn websocket_upgrade_required(
        status: u16,
        detail: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        let kind = WEBSOCKET_UPGRADE_REQUIRED;
        Self::new(status, kind.code, kind.slug, kind.title).with_detail(detail)
    }

    /// `unknown_schema_document` (404): no schema document has this name (shown cut to 100
    /// characters). `published` lists the names that exist.
    pub fn unknown_schema_document(name: &str, published: &[&str]) -> Self {
        let shown = shown(name);
        let published = published
            .iter()
            .map(|name| format!("'{name}'"))
            .collect::<Vec<_>>()
            .join(" and ");
        Self::of(UNKNOWN_SCHEMA_DOCUMENT).with_detail(format!(
            "No schema document is named '{shown}'; this server publishes {published}."
        ))
    }

    /// `rate_limited` (429): an action (or an upgrade) over its rate limit; says when to
    /// retry.
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        Self::of(RATE_LIMITED)
            .with_detail(format!(
                "Too many requests: retry in {} ms.",
                retry_after.as_millis().max(1)
            ))
            .with_retry_after(retry_after)
    }

    /// `too_many_connections` (429): the user holds as many connections on this node as one
    /// user may.
    pub fn too_many_connections(limit: usize) -> Self {
        Self::of(TOO_MANY_CONNECTIONS).with_detail(format!(
            "This user already holds {limit} connections, the most one user may hold here."
        ))
    }

    /// `server_full` (503): the node holds as many connections as it takes.
    pub fn server_full() -> Self {
        Self::of(SERVER_FULL).with_detail("This server takes no more connections now.")
    }

    /// `shutting_down` (503): the node is shutting down and takes no more connections.
    pub fn shutting_down() -> Self {
        Self::of(SHUTTING_DOWN)
            .with_detail("This server is shutting down; connect to another or try again.")
    }

    /// `invalid_topic` (422): a topic to subscribe to (or to ask the presence of) breaks the
    /// topic rules; `reason` says which (`docs/protocol.md` §6.3).
    pub fn invalid_topic(topic: &str, reason: &str) -> Self {
        Self::of(INVALID_TOPIC).with_detail(format!(
            "The topic '{}' is invalid: {reason}.",
            shown(topic)
        ))
    }

    /// `session_not_found` (404): an action was POSTed for an SSE session that does not
    /// exist (ended, never was, or is another user's), or without naming one.
    pub fn session_not_found() -> Self {
        Self::of(SESSION_NOT_FOUND).with_detail(
            "No SSE session has the key in the Beeflow-Session header: open a stream first."
                .to_owned(),
        )
    }

    /// `session_busy` (429): an SSE session has too many POSTed actions waiting.
    pub fn session_busy() -> Self {
        Self::of(SESSION_BUSY).with_detail(
            "The SSE session has too many actions waiting: wait for their replies.".to_owned(),
        )
    }

    /// `broker_unavailable` (503): an action POSTed for an SSE session of another node could
    /// not be carried there (the broker is down, or cannot carry actions).
    pub fn broker_unavailable() -> Self {
        Self::of(BROKER_UNAVAILABLE).with_detail(
            "The SSE session is held by another node, which cannot be reached now.".to_owned(),
        )
    }

    /// `request_too_large` (413): a POSTed action is larger than the largest message.
    pub fn request_too_large(limit: usize) -> Self {
        Self::of(REQUEST_TOO_LARGE).with_detail(format!(
            "The request body is larger than {limit} bytes, the largest message."
        ))
    }

    /// `state_not_found` (404): `beeflow.state.get` named a key no synced state of this
    /// node has.
    pub fn state_not_found(key: &str) -> Self {
        Self::of(STATE_NOT_FOUND).with_detail(format!(
            "No synced state has the key '{}' on this node.",
            shown(key)
        ))
    }

    /// `state_denied` (403): `beeflow.state.get` asked for a synced state whose events do
    /// not reach the asking connection.
    pub fn state_denied(key: &str) -> Self {
        Self::of(STATE_DENIED).with_detail(format!(
            "The synced state '{}' is not sent to this connection.",
            shown(key)
        ))
    }

    /// `subscription_denied` (403): the application's subscription hook refused the topic
    /// (or no hook is set: every subscription is refused by default).
    pub fn subscription_denied(topic: &str) -> Self {
        Self::of(SUBSCRIPTION_DENIED).with_detail(format!(
            "This connection may not subscribe to '{}'.",
            shown(topic)
        ))
    }

    /// `too_many_subscriptions` (429): the connection holds as many subscriptions as one
    /// connection may.
    pub fn too_many_subscriptions(limit: usize) -> Self {
        Self::of(TOO_MANY_SUBSCRIPTIONS).with_detail(format!(
            "This connection already holds {limit} subscriptions, the most one may hold; unsubscribe from one first."
        ))
    }

    /// `presence_unavailable` (503): the broker that keeps every node's presence counts
    /// cannot be reached now.
    pub fn presence_unavailable() -> Self {
        Self::of(PRESENCE_UNAVAILABLE)
            .with_detail("Who is in this group cannot be told now; try again shortly.")
    }

    /// `headers_too_large` (431): the upgrade request's headers add up to more than the limit.
    pub fn headers_too_large(limit: usize) -> Self {
        Self::of(HEADERS_TOO_LARGE).with_detail(format!(
            "The request's headers are larger than the {limit} bytes this server reads."
        ))
    }

    /// `handshake_timed_out` (408): admitting the upgrade (the application's authenticator)
    /// took longer than the handshake timeout.
    pub fn handshake_timed_out() -> Self {
        Self::of(HANDSHAKE_TIMED_OUT).with_detail("The upgrade request was not admitted in time.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the catalogue table in `docs/errors.md`: code, status, slug, title.
    fn documented() -> Vec<Kind> {
        let guide = include_str!("../../../docs/errors.md");
        let table = guide
            .split("## Every problem beeflow sends")
            .nth(1)
            .expect("docs/errors.md has the catalogue section");
        table
            .lines()
            .skip_while(|line| !line.starts_with("| code"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&'static str> = line.split('|').map(str::trim).collect();
                Kind {
                    code: cells[1].trim_matches('`'),
                    status: cells[2].parse().expect("a status"),
                    slug: cells[3].trim_matches('`'),
                    title: cells[4],
                }
            })
            .collect()
    }

    #[test]
    fn docs_errors_md_lists_exactly_the_catalogue() {
        assert_eq!(documented(), CATALOGUE);
    }

    #[test]
    fn codes_are_unique_and_slugs_follow_them() {
        for (i, kind) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[..i].iter().all(|other| other.code != kind.code),
                "{} twice",
                kind.code
            );
            // The two protocol-fixed slugs are the only exceptions.
            if !matches!(
                kind.code,
                "invalid_websocket_message" | "unknown_websocket_action"
            ) {
                assert_eq!(kind.slug, kind.code.replace('_', "-"));
            }
        }
    }
}
