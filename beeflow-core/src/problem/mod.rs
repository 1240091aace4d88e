//! RFC 9457 Problem Details: the one error shape beeflow sends.
//!
//! A [`Problem`] carries what is stable about an error (status, `code`, slug, title, detail).
//! The parts that depend on where it is sent (the server `msg_id`, the request's `req_id`,
//! the `type` URL built from the configured base, and the `instance` path) are added when
//! the problem is rendered for one connection (see [`ProblemTypeBase`]). Every problem
//! beeflow itself sends is built in [`catalogue`], and nowhere else.

mod catalogue;

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

/// An RFC 9457 Problem Details error, plus beeflow's stable `code`.
///
/// Handlers return their own error types; those convert into a `Problem` through
/// [`IntoProblem`]. Build one with [`Problem::new`] and the `with_*` methods, or use one of
/// the constructors for beeflow's own problems.
///
/// ```
/// use beeflow_core::Problem;
///
/// let problem = Problem::new(409, "room_full", "room-full", "Room is full")
///     .with_detail("Room 'lobby' already has 50 members.");
/// assert_eq!(problem.status(), 409);
/// assert_eq!(problem.code(), "room_full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    status: u16,
    code: Cow<'static, str>,
    slug: Cow<'static, str>,
    title: Cow<'static, str>,
    detail: Cow<'static, str>,
    retry_after: Option<Duration>,
}

impl Problem {
    /// The media type of a Problem Details document sent over HTTP.
    pub const MEDIA_TYPE: &'static str = "application/problem+json";

    /// Creates a problem with a status, a stable machine-readable `code`, the slug its `type`
    /// URL ends with, and a short human-readable title. The detail defaults to the title.
    ///
    /// # Panics
    ///
    /// Panics if `status` is not an error status (400..=599): a Problem always describes a
    /// failure, and a wrong status is a programming error, not a runtime condition.
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        slug: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        assert!(
            (400..=599).contains(&status),
            "a Problem status must be in 400..=599, got {status}"
        );
        let title = title.into();
        Self {
            status,
            code: code.into(),
            slug: slug.into(),
            detail: title.clone(),
            title,
            retry_after: None,
        }
    }

    /// Says when the client may try again: sent as `retry_after_ms` (and, over HTTP, as a
    /// `Retry-After` header by the adapters).
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// When the client may try again, if the problem says so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// [`Problem::retry_after`] in whole seconds, rounded up, as an HTTP `Retry-After`
    /// header says it.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after
            .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }

    /// Replaces the human-readable explanation of this occurrence.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The stable machine-readable code, e.g. `unknown_websocket_action`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The slug appended to the configured problem base URL to form `type`.
    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The short summary of the problem type.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The explanation of this occurrence.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Renders this problem as the JSON object sent to a client
    /// (`docs/protocol.md` §3), with a fresh server `msg_id`.
    pub(crate) fn to_json(
        &self,
        base: &ProblemTypeBase,
        req_id: Option<Uuid>,
        instance: &str,
    ) -> String {
        self.render(base, Some(Uuid::new_v4()), req_id, instance)
    }

    /// Renders this problem as an `application/problem+json` HTTP response body (a failed
    /// upgrade): no `msg_id` or `req_id`, since no WebSocket message is involved.
    pub fn to_http_json(&self, base: &ProblemTypeBase, instance: &str) -> String {
        self.render(base, None, None, instance)
    }

    fn render(
        &self,
        base: &ProblemTypeBase,
        msg_id: Option<Uuid>,
        req_id: Option<Uuid>,
        instance: &str,
    ) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            msg_id: Option<uuid::fmt::Hyphenated>,
            #[serde(skip_serializing_if = "Option::is_none")]
            req_id: Option<uuid::fmt::Hyphenated>,
            r#type: Cow<'a, str>,
            title: &'a str,
            status: u16,
            detail: &'a str,
            code: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            retry_after_ms: Option<u64>,
            #[serde(skip_serializing_if = "str::is_empty")]
            instance: &'a str,
        }
        let wire = Wire {
            msg_id: msg_id.map(Uuid::hyphenated),
            req_id: req_id.map(Uuid::hyphenated),
            r#type: base.type_for(&self.slug),
            title: &self.title,
            status: self.status,
            detail: &self.detail,
            code: &self.code,
            // Rounded up: a client that waits this long is let in.
            retry_after_ms: self
                .retry_after
                .map(|wait| u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)),
            instance,
        };
        // Serializing plain strings and integers into a String cannot fail.
        serde_json::to_string(&wire).expect("problem serialization is infallible")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

/// The message of a caught panic, for the log line beside the Problem the client gets.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}

/// Converts an error into the [`Problem`] a client receives.
///
/// Implement it for a handler's error type; `#[action]` handlers may then return
/// `Result<_, YourError>`. Internal details should stay out of the problem: log them instead.
///
/// ```
/// use beeflow_core::{IntoProblem, Problem};
///
/// #[derive(Debug)]
/// enum RoomError {
///     Full,
///     Database(String),
/// }
///
/// impl IntoProblem for RoomError {
///     fn into_problem(self) -> Problem {
///         match self {
///             RoomError::Full => Problem::new(409, "room_full", "room-full", "Room is full"),
///             RoomError::Database(_) => Problem::action_failed(),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to a client as a Problem",
    note = "implement `beeflow_core::IntoProblem` for `{Self}` to choose its status, code and title"
)]
pub trait IntoProblem {
    /// Performs the conversion.
    fn into_problem(self) -> Problem;

    /// The `code`s of the Problems this type can become, for the schema documents: an
    /// action returning `Result<_, Self>` lists them as the errors it can produce. Empty by
    /// default (a plain `Problem` can be anything).
    fn problem_codes() -> &'static [&'static str] {
        &[]
    }
}

impl IntoProblem for Problem {
    fn into_problem(self) -> Problem {
        self
    }
}

impl IntoProblem for std::convert::Infallible {
    fn into_problem(self) -> Problem {
        match self {}
    }
}

/// The base URL problem `type`s are built from, or `about:blank` when none is configured.
///
/// ```
/// use beeflow_core::transport::ProblemTypeBase;
///
/// let base = ProblemTypeBase::new(Some("https://example.com/problems/websocket/"));
/// assert_eq!(
///     base.type_for("/unknown-action"),
///     "https://example.com/problems/websocket/unknown-action"
/// );
/// assert_eq!(ProblemTypeBase::new(Some("  ")).type_for("x"), "about:blank");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProblemTypeBase {
    base: Option<Box<str>>,
}

impl ProblemTypeBase {
    /// Normalises a configured base: surrounding whitespace and trailing `/` are removed, and
    /// a missing or blank base means `about:blank`.
    pub fn new(base: Option<&str>) -> Self {
        let base = base
            .map(|b| b.trim().trim_end_matches('/'))
            .filter(|b| !b.is_empty())
            .map(Box::from);
        Self { base }
    }

    /// The `type` URL for a problem slug (its leading `/` removed).
    pub fn type_for<'a>(&self, slug: &'a str) -> Cow<'a, str> {
        match &self.base {
            None => Cow::Borrowed("about:blank"),
            Some(base) => Cow::Owned(format!("{base}/{}", slug.trim_start_matches('/'))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn render(problem: &Problem, base: Option<&str>, req_id: Option<Uuid>) -> Value {
        serde_json::from_str(&problem.to_json(&ProblemTypeBase::new(base), req_id, "/ws/")).unwrap()
    }

    #[test]
    fn invalid_message_has_exact_strings() {
        let v = render(&Problem::invalid_websocket_message(), None, None);
        assert_eq!(v["title"], "Invalid WebSocket message");
        assert_eq!(v["status"], 400);
        assert_eq!(v["code"], "invalid_websocket_message");
        assert_eq!(
            v["detail"],
            "Message must contain valid UUID 'msg_id' and 'req_id', a non-empty 'action' \
             string, and an object 'payload'."
        );
        assert_eq!(v["type"], "about:blank");
        assert!(v.get("req_id").is_none(), "null members are left out");
    }

    #[test]
    fn unknown_action_names_the_action() {
        let v = render(
            &Problem::unknown_websocket_action("MissingAction"),
            Some("https://example.com/problems/websocket"),
            None,
        );
        assert_eq!(
            v["detail"],
            "No WebSocket action is registered under 'MissingAction'."
        );
        assert_eq!(v["title"], "Unknown WebSocket action");
        assert_eq!(
            v["type"],
            "https://example.com/problems/websocket/unknown-action"
        );
    }

    #[test]
    fn members_are_in_protocol_order() {
        let req_id = Uuid::parse_str("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        let text = Problem::invalid_websocket_message().to_json(
            &ProblemTypeBase::default(),
            Some(req_id),
            "/ws/",
        );
        let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&text)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        // serde_json's Map is sorted unless preserve_order is on, so check positions in the text.
        let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        let order = [
            "msg_id", "req_id", "type", "title", "status", "detail", "code", "instance",
        ];
        assert_eq!(keys.len(), order.len());
        assert!(order.windows(2).all(|w| pos(w[0]) < pos(w[1])), "{text}");
        assert!(
            text.contains("\"req_id\":\"6f9619ff-8b86-d011-b42d-00c04fc964ff\""),
            "{text}"
        );
    }

    #[test]
    fn fresh_msg_id_per_render() {
        let p = Problem::invalid_websocket_message();
        let a = render(&p, None, None);
        let b = render(&p, None, None);
        assert_ne!(a["msg_id"], b["msg_id"]);
        let id = Uuid::parse_str(a["msg_id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 4);
    }

    #[test]
    fn type_base_rules() {
        let cases = [
            (None, "about:blank"),
            (Some(""), "about:blank"),
            (Some("   "), "about:blank"),
            (Some("/"), "about:blank"),
            (Some("https://x.test/p"), "https://x.test/p/unknown-action"),
            (
                Some("https://x.test/p///"),
                "https://x.test/p/unknown-action",
            ),
            (
                Some(" https://x.test/p/ "),
                "https://x.test/p/unknown-action",
            ),
        ];
        for (base, expected) in cases {
            assert_eq!(
                ProblemTypeBase::new(base).type_for("unknown-action"),
                expected,
                "{base:?}"
            );
        }
        assert_eq!(
            ProblemTypeBase::new(Some("https://x.test")).type_for("//slug"),
            "https://x.test/slug"
        );
    }

    #[test]
    #[should_panic(expected = "400..=599")]
    fn success_status_is_rejected() {
        let _ = Problem::new(200, "ok", "ok", "OK");
    }
}
