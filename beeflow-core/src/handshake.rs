//! Authentication of the HTTP upgrade request, shared by every adapter (PROTOCOL.md §4).
//!
//! An adapter copies what it needs of the request into a [`HandshakeRequest`] and asks the
//! [`HandshakePolicy`]; the policy checks the `Origin`, finds the token (the `access-token`
//! subprotocol, or the query string only when the application opted in) and runs the
//! application's authenticator. The default is to deny: anonymous access must be turned on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::identity::{ErasedIdentity, Principal};
use crate::problem::Problem;

/// The subprotocol marker a browser sends before its token:
/// `new WebSocket(url, ["access-token", token])`.
pub const ACCESS_TOKEN_PROTOCOL: &str = "access-token";

/// What the authenticator sees of an upgrade request.
#[derive(Clone, Default)]
pub struct HandshakeRequest {
    path: String,
    headers: Vec<(String, String)>,
    token: Option<String>,
}

impl HandshakeRequest {
    /// The request path, without the query string.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first value of header `name` (case-insensitive), if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The bearer token: from the `access-token` subprotocol, or from the query string when
    /// the application opted in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

impl fmt::Debug for HandshakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens and cookies are secrets: never print them.
        f.debug_struct("HandshakeRequest")
            .field("path", &self.path)
            .field("has_token", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

type AuthResult = Result<Option<ErasedIdentity>, Problem>;
type AuthFuture = Pin<Box<dyn Future<Output = AuthResult> + Send>>;
type AuthFn = dyn Fn(HandshakeRequest) -> AuthFuture + Send + Sync;

/// How upgrade requests are admitted.
#[derive(Clone, Default)]
pub struct HandshakePolicy {
    authenticator: Option<Arc<AuthFn>>,
    allow_guests: bool,
    allowed_origins: Option<Vec<String>>,
    query_token_param: Option<String>,
}

/// An admitted upgrade: the identity (none for a guest) and the subprotocol to select.
#[derive(Clone)]
pub struct Admission {
    pub(crate) identity: Option<ErasedIdentity>,
    /// `Some("access-token")` when the client offered it; never the token itself.
    pub protocol: Option<&'static str>,
}

impl Admission {
    /// The user id of the authenticated identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| &*i.user_id)
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("authenticated", &self.identity.is_some())
            .field("protocol", &self.protocol)
            .finish()
    }
}

impl HandshakePolicy {
    /// Denies every upgrade until an authenticator is set or guests are allowed.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Authenticates upgrades with `authenticate`, which returns the application's identity
    /// for the request, or a Problem (sent as the HTTP response; use status 401 or 403).
    #[must_use]
    pub fn authenticate<F, Fut, I>(mut self, authenticate: F) -> Self
    where
        F: Fn(HandshakeRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, Problem>> + Send + 'static,
        I: Principal,
    {
        self.authenticator = Some(Arc::new(move |request| {
            let pending = authenticate(request);
            Box::pin(async move {
                pending
                    .await
                    .map(|identity| Some(ErasedIdentity::new(identity)))
            })
        }));
        self
    }

    /// Admits connections without a token as guests (no identity). With an authenticator
    /// set, requests that carry a token are still authenticated by it.
    #[must_use]
    pub fn allow_guests(mut self) -> Self {
        self.allow_guests = true;
        self
    }

    /// Rejects (403) upgrades whose `Origin` header is not one of `origins` (exact match,
    /// e.g. `https://app.example.com`). Requests without `Origin` (not from a browser) pass.
    #[must_use]
    pub fn allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Also reads the token from query parameter `name`. Off by default: query strings end up
    /// in logs and browser history.
    #[must_use]
    pub fn token_from_query(mut self, name: impl Into<String>) -> Self {
        self.query_token_param = Some(name.into());
        self
    }

    /// Decides on an upgrade request.
    ///
    /// `headers` are the request's headers with text values; `query` is the raw query
    /// string.
    ///
    /// # Errors
    ///
    /// The Problem to send as the HTTP response: 403 for a disallowed origin, 401 when no
    /// identity could be established, or whatever the authenticator returned.
    pub async fn admit(
        &self,
        path: &str,
        query: Option<&str>,
        headers: Vec<(String, String)>,
    ) -> Result<Admission, Problem> {
        let mut request = HandshakeRequest {
            path: path.to_owned(),
            headers,
            token: None,
        };
        if let (Some(allowed), Some(origin)) = (&self.allowed_origins, request.header("origin"))
            && !allowed.iter().any(|a| a == origin)
        {
            return Err(Problem::new(
                403,
                "origin_not_allowed",
                "origin-not-allowed",
                "Origin not allowed",
            )
            .with_detail(format!(
                "WebSocket connections from origin '{origin}' are not allowed."
            )));
        }
        let offered = offered_protocols(&request.headers);
        let protocol = offered
            .iter()
            .any(|p| p == ACCESS_TOKEN_PROTOCOL)
            .then_some(ACCESS_TOKEN_PROTOCOL);
        request.token = token_after_marker(&offered).or_else(|| {
            let name = self.query_token_param.as_deref()?;
            query_param(query?, name)
        });
        let identity = match (&self.authenticator, request.token.is_some()) {
            (Some(authenticate), true) => authenticate(request).await?,
            (_, false) if self.allow_guests => None,
            (Some(authenticate), false) => authenticate(request).await?,
            (None, _) => return Err(unauthenticated()),
        };
        Ok(Admission { identity, protocol })
    }
}

impl fmt::Debug for HandshakePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakePolicy")
            .field("authenticator", &self.authenticator.is_some())
            .field("allow_guests", &self.allow_guests)
            .field("allowed_origins", &self.allowed_origins)
            .field("query_token_param", &self.query_token_param)
            .finish()
    }
}

/// The headers of a request as the policy reads them: names with their text values
/// (values that are not visible ASCII are left out). Adapters pass their framework's
/// header map here, so both read a request the same way.
pub fn text_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            let value = std::str::from_utf8(value).ok()?;
            let visible = value.bytes().all(|b| b == b'\t' || (32..127).contains(&b));
            visible.then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Checks that a request's headers ask for a WebSocket upgrade (RFC 6455 §4.2.1), in the
/// order and with the texts axum 0.8 uses, so every adapter refuses a plain request with the
/// same Problem.
///
/// # Errors
///
/// `websocket_upgrade_required` (400) naming the first header that is missing or wrong.
pub fn check_upgrade(headers: &[(String, String)]) -> Result<(), Problem> {
    let first = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let refused = |detail: &'static str| Err(upgrade_refused(400, detail));
    if !first("connection").is_some_and(|v| v.to_ascii_lowercase().contains("upgrade")) {
        return refused("Connection header did not include 'upgrade'");
    }
    if !first("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return refused("`Upgrade` header did not include 'websocket'");
    }
    if first("sec-websocket-key").is_none() {
        return refused("`Sec-WebSocket-Key` header missing");
    }
    if first("sec-websocket-version") != Some("13") {
        return refused("`Sec-WebSocket-Version` header did not include '13'");
    }
    Ok(())
}

/// `websocket_upgrade_required`: the request cannot be upgraded, for the reason in `detail`.
pub fn upgrade_refused(status: u16, detail: impl Into<std::borrow::Cow<'static, str>>) -> Problem {
    Problem::new(
        status,
        "websocket_upgrade_required",
        "upgrade-required",
        "WebSocket upgrade required",
    )
    .with_detail(detail)
}

/// The 401 Problem for an upgrade without a usable identity.
pub fn unauthenticated() -> Problem {
    Problem::new(
        401,
        "unauthenticated",
        "unauthenticated",
        "Authentication required",
    )
    .with_detail("Send a valid token as the second subprotocol after 'access-token'.")
}

fn offered_protocols(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-protocol"))
        .flat_map(|(_, v)| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn token_after_marker(offered: &[String]) -> Option<String> {
    let at = offered.iter().position(|p| p == ACCESS_TOKEN_PROTOCOL)?;
    offered.get(at + 1).cloned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn policy() -> HandshakePolicy {
        HandshakePolicy::deny_all().authenticate(|req: HandshakeRequest| async move {
            match req.token() {
                Some("good") => Ok(7_u32),
                _ => Err(unauthenticated()),
            }
        })
    }

    fn block<F: Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("no waiting in these tests")
    }

    #[test]
    fn default_policy_denies() {
        let err = block(HandshakePolicy::deny_all().admit("/ws/", None, vec![])).unwrap_err();
        assert_eq!(err.status(), 401);
    }

    #[test]
    fn token_from_subprotocol_selects_only_the_marker() {
        let h = headers(&[("Sec-WebSocket-Protocol", "access-token, good")]);
        let admitted = block(policy().admit("/ws/", None, h)).unwrap();
        assert_eq!(admitted.protocol, Some("access-token"));
        assert_eq!(admitted.user_id(), Some("7"));
        let id = admitted.identity.unwrap();
        assert_eq!(id.value.downcast_ref::<u32>(), Some(&7));
    }

    #[test]
    fn query_token_needs_opt_in() {
        let err = block(policy().admit("/ws/", Some("access_token=good"), vec![])).unwrap_err();
        assert_eq!(err.status(), 401);
        let opted = policy().token_from_query("access_token");
        assert!(block(opted.admit("/ws/", Some("x=1&access_token=good"), vec![])).is_ok());
    }

    #[test]
    fn guests_need_opt_in_and_bad_tokens_still_fail() {
        let guests = policy().allow_guests();
        let admitted = block(guests.admit("/ws/", None, vec![])).unwrap();
        assert!(admitted.identity.is_none());
        let h = headers(&[("sec-websocket-protocol", "access-token,bad")]);
        assert_eq!(
            block(guests.admit("/ws/", None, h)).unwrap_err().status(),
            401
        );
    }

    #[test]
    fn disallowed_origin_is_403() {
        let p = policy().allowed_origins(["https://app.example.com"]);
        let h = headers(&[
            ("Origin", "https://evil.example"),
            ("Sec-WebSocket-Protocol", "access-token, good"),
        ]);
        assert_eq!(block(p.admit("/ws/", None, h)).unwrap_err().status(), 403);
        let h = headers(&[
            ("Origin", "https://app.example.com"),
            ("Sec-WebSocket-Protocol", "access-token, good"),
        ]);
        assert!(block(p.admit("/ws/", None, h)).is_ok());
    }

    #[test]
    fn only_text_header_values_are_read() {
        let raw: [(&str, &[u8]); 3] = [("a", b"x\ty"), ("b", b"\xff"), ("c", b"bell\x07")];
        assert_eq!(text_headers(raw), [("a".to_owned(), "x\ty".to_owned())]);
    }

    #[test]
    fn upgrade_headers_are_checked_in_order() {
        let valid = [
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "WebSocket"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        assert!(check_upgrade(&headers(&valid)).is_ok());
        for (missing, detail) in [
            (0, "Connection header did not include 'upgrade'"),
            (1, "`Upgrade` header did not include 'websocket'"),
            (2, "`Sec-WebSocket-Key` header missing"),
            (3, "`Sec-WebSocket-Version` header did not include '13'"),
        ] {
            let mut partial = valid.to_vec();
            partial.remove(missing);
            let problem = check_upgrade(&headers(&partial)).unwrap_err();
            assert_eq!((problem.status(), problem.detail()), (400, detail));
            assert_eq!(problem.code(), "websocket_upgrade_required");
        }
    }

    #[test]
    fn cookies_and_headers_are_readable() {
        let req = HandshakeRequest {
            path: "/ws/".into(),
            headers: headers(&[("Cookie", "a=1; session=xyz"), ("X-Key", "k")]),
            token: Some("secret".into()),
        };
        assert_eq!(req.cookie("session"), Some("xyz"));
        assert_eq!(req.header("x-key"), Some("k"));
        assert!(!format!("{req:?}").contains("secret"));
    }
}
