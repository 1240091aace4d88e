//! Authentication of the HTTP upgrade request, shared by every adapter (`docs/protocol.md`
//! §4). The header checks every adapter runs first are in `upgrade.rs`.
//!
//! An adapter copies what it needs of the request into a [`HandshakeRequest`] and asks the
//! [`HandshakePolicy`]; the policy checks the `Origin`, finds the token (the `access-token`
//! subprotocol, or the query string only when the application opted in) and runs the
//! application's authenticator. The default is to deny: anonymous access must be turned on.

mod upgrade;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use self::upgrade::{check_upgrade, switching_protocols, text_headers};
use crate::envelope::Encoding;
use crate::identity::{ErasedIdentity, Principal};
use crate::problem::Problem;
use crate::type_key::TypeKey;

/// The subprotocol a client offers to speak version 2 of the protocol
/// (`docs/protocol.md` §6.1): `new WebSocket(url, ["beeflow.v2", "access-token", token])`.
pub const V2_PROTOCOL: &str = "beeflow.v2";

/// [`MSGPACK_PROTOCOL`]'s name, whether or not the feature is on, for the negotiation.
const MSGPACK_V2: &str = "beeflow.v2.msgpack";

/// The subprotocol a client offers to speak version 2 in MessagePack binary messages
/// (feature `msgpack`, `docs/protocol.md` §6.7); preferred to `beeflow.v2` when both are
/// offered.
#[cfg(feature = "msgpack")]
pub const MSGPACK_PROTOCOL: &str = MSGPACK_V2;

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
    /// The type the authenticator returns, for [`HandshakePolicy::identity_type`].
    identity: Option<TypeKey>,
    allow_guests: bool,
    origins: Origins,
    query_token_param: Option<String>,
}

/// Which `Origin`s a policy lets in, when a request carries one.
#[derive(Debug, Clone, Default)]
enum Origins {
    /// The page must come from the server's own host (`Origin` against `Host`).
    #[default]
    SameOrigin,
    /// Exactly these origins.
    Only(Vec<String>),
    /// Any origin.
    Any,
}

/// An admitted connection: its identity (none for a guest) and the subprotocol to select.
///
/// [`HandshakePolicy::admit`] gives one to a transport; code that opens connections without
/// a handshake (tests, in-process clients) builds one with [`Admission::guest`] or
/// [`Admission::authenticated`].
#[derive(Clone)]
pub struct Admission {
    pub(crate) identity: Option<ErasedIdentity>,
    protocol: Option<&'static str>,
}

impl Admission {
    /// A connection without an identity.
    pub fn guest() -> Self {
        Self {
            identity: None,
            protocol: None,
        }
    }

    /// A connection authenticated as `identity` (the application's own type; handlers get
    /// it back with [`Identity<T>`](crate::Identity), and
    /// [`Recipient::user`](crate::Recipient::user) reaches it).
    pub fn authenticated<I: Principal>(identity: I) -> Self {
        Self {
            identity: Some(ErasedIdentity::new(identity)),
            protocol: None,
        }
    }

    /// The user id of the authenticated identity; `None` for a guest.
    pub fn user_id(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| &*i.user_id)
    }

    /// The subprotocol the transport selects in its 101 response: `beeflow.v2` when the
    /// client offered it, else `access-token` when the client offered that; never the token.
    pub fn protocol(&self) -> Option<&'static str> {
        self.protocol
    }

    /// The protocol version the connection speaks: 2 when the client offered `beeflow.v2`,
    /// else 1 (`docs/protocol.md` §6.1).
    pub fn version(&self) -> u8 {
        if self.protocol == Some(V2_PROTOCOL) || self.encoding() != Encoding::Json {
            2
        } else {
            1
        }
    }

    /// How the connection's frames are encoded.
    pub(crate) fn encoding(&self) -> Encoding {
        #[cfg(feature = "msgpack")]
        if self.protocol == Some(MSGPACK_PROTOCOL) {
            return Encoding::MessagePack;
        }
        Encoding::Json
    }

    /// The same admission speaking protocol version 2, as if the client had offered
    /// `beeflow.v2` (for in-process clients and tests).
    #[must_use]
    pub fn v2(mut self) -> Self {
        self.protocol = Some(V2_PROTOCOL);
        self
    }

    /// The same admission speaking protocol version 2 in MessagePack, as if the client
    /// had offered `beeflow.v2.msgpack` (for in-process clients and tests).
    #[cfg(feature = "msgpack")]
    #[must_use]
    pub fn msgpack(mut self) -> Self {
        self.protocol = Some(MSGPACK_PROTOCOL);
        self
    }

    #[cfg(test)]
    pub(crate) fn with_protocol(mut self, protocol: Option<&'static str>) -> Self {
        self.protocol = protocol;
        self
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
        self.identity = Some(TypeKey::of::<I>());
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

    /// The type of the identities this policy authenticates connections as; `None` when it
    /// authenticates nobody.
    pub(crate) fn identity_type(&self) -> Option<TypeKey> {
        self.identity
    }

    /// Whether connections without a token are admitted as guests.
    pub(crate) fn admits_guests(&self) -> bool {
        self.allow_guests
    }

    /// Admits connections without a token as guests (no identity). With an authenticator
    /// set, requests that carry a token are still authenticated by it.
    #[must_use]
    pub fn allow_guests(mut self) -> Self {
        self.allow_guests = true;
        self
    }

    /// Rejects (403) upgrades whose `Origin` header is not one of `origins` (exact match,
    /// e.g. `https://app.example.com`), instead of the default same-origin check. Requests
    /// without `Origin` (not from a browser) pass.
    #[must_use]
    pub fn allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.origins = Origins::Only(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Lets pages of any origin connect, instead of the default same-origin check. Only for
    /// endpoints that authenticate every connection with a token a page of another origin
    /// cannot have: browsers send cookies to any origin's WebSocket.
    #[must_use]
    pub fn any_origin(mut self) -> Self {
        self.origins = Origins::Any;
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
        if let Some(origin) = request.header("origin")
            && !self.origin_allowed(origin, request.header("host"))
        {
            return Err(Problem::origin_not_allowed(origin));
        }
        let offered = offered_protocols(&request.headers);
        let offers = |protocol: &str| offered.iter().any(|p| p == protocol);
        let protocol = if cfg!(feature = "msgpack") && offers(MSGPACK_V2) {
            Some(MSGPACK_V2)
        } else if offers(V2_PROTOCOL) {
            Some(V2_PROTOCOL)
        } else {
            offers(ACCESS_TOKEN_PROTOCOL).then_some(ACCESS_TOKEN_PROTOCOL)
        };
        request.token = token_after_marker(&offered)
            .or_else(|| bearer(&request.headers))
            .or_else(|| {
                let name = self.query_token_param.as_deref()?;
                query_param(query?, name)
            });
        let identity = match (&self.authenticator, request.token.is_some()) {
            (Some(authenticate), true) => authenticate(request).await?,
            (_, false) if self.allow_guests => None,
            (Some(authenticate), false) => authenticate(request).await?,
            (None, _) => return Err(Problem::unauthenticated()),
        };
        Ok(Admission { identity, protocol })
    }
}

impl HandshakePolicy {
    /// Whether a request from a page of `origin` may connect. A value that could not be
    /// read arrives empty and matches nothing: the check fails closed.
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::Only(allowed) => allowed.iter().any(|a| a == origin),
            Origins::SameOrigin => {
                let authority = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"));
                match (authority, host) {
                    (Some(authority), Some(host)) => without_default_port(authority)
                        .eq_ignore_ascii_case(without_default_port(host)),
                    _ => false,
                }
            }
        }
    }
}

/// `host:80` and `host:443` name the same server as `host` does in a browser's `Origin`.
fn without_default_port(authority: &str) -> &str {
    authority
        .strip_suffix(":80")
        .or_else(|| authority.strip_suffix(":443"))
        .unwrap_or(authority)
}

impl fmt::Debug for HandshakePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakePolicy")
            .field("authenticator", &self.authenticator.is_some())
            .field("allow_guests", &self.allow_guests)
            .field("origins", &self.origins)
            .field("query_token_param", &self.query_token_param)
            .finish()
    }
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

/// The token of an `Authorization: Bearer <token>` header (how SSE clients send it).
fn bearer(headers: &[(String, String)]) -> Option<String> {
    let (_, value) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// Header pairs from string literals, for the tests of both files.
#[cfg(test)]
fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HandshakePolicy {
        HandshakePolicy::deny_all().authenticate(|req: HandshakeRequest| async move {
            match req.token() {
                Some("good") => Ok(7_u32),
                _ => Err(Problem::unauthenticated()),
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
        assert_eq!(admitted.protocol(), Some("access-token"));
        assert_eq!(admitted.user_id(), Some("7"));
        let id = admitted.identity.unwrap();
        assert_eq!(id.value.downcast_ref::<u32>(), Some(&7));
    }

    #[test]
    fn messagepack_is_chosen_when_offered_and_built_in() {
        let offer = "beeflow.v2, beeflow.v2.msgpack, access-token, good";
        let h = headers(&[("Sec-WebSocket-Protocol", offer)]);
        let admitted = block(policy().admit("/ws/", None, h)).unwrap();
        assert_eq!(admitted.version(), 2);
        if cfg!(feature = "msgpack") {
            assert_eq!(admitted.protocol(), Some("beeflow.v2.msgpack"));
            assert_ne!(admitted.encoding(), Encoding::Json);
        } else {
            assert_eq!(admitted.protocol(), Some("beeflow.v2"));
            assert_eq!(admitted.encoding(), Encoding::Json);
        }
        // Offered alone to a server without the feature: version 1, as to the Python library.
        let h = headers(&[(
            "Sec-WebSocket-Protocol",
            "beeflow.v2.msgpack, access-token, good",
        )]);
        let admitted = block(policy().admit("/ws/", None, h)).unwrap();
        let expected = if cfg!(feature = "msgpack") { 2 } else { 1 };
        assert_eq!(admitted.version(), expected);
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
    fn by_default_a_page_must_come_from_the_servers_own_host() {
        let with = |origin: &str, host: &str| {
            headers(&[
                ("Origin", origin),
                ("Host", host),
                ("Sec-WebSocket-Protocol", "access-token, good"),
            ])
        };
        let same = [
            ("http://127.0.0.1:3000", "127.0.0.1:3000"),
            ("https://chat.example.com", "chat.example.com"),
            ("https://Chat.Example.com:443", "chat.example.com"),
        ];
        for (origin, host) in same {
            assert!(
                block(policy().admit("/ws/", None, with(origin, host))).is_ok(),
                "{origin}"
            );
        }
        let other = [
            ("https://evil.example", "chat.example.com"),
            ("null", "chat.example.com"),
            // An `Origin` that could not be read arrives empty: it matches nothing.
            ("", "chat.example.com"),
            ("http://127.0.0.1:3001", "127.0.0.1:3000"),
        ];
        for (origin, host) in other {
            let refused = block(policy().admit("/ws/", None, with(origin, host))).unwrap_err();
            assert_eq!(refused.status(), 403, "{origin}");
        }
        assert!(block(policy().any_origin().admit("/ws/", None, with("null", "x"))).is_ok());
        // No `Origin`: not a browser, nothing to check.
        let h = headers(&[("Sec-WebSocket-Protocol", "access-token, good")]);
        assert!(block(policy().admit("/ws/", None, h)).is_ok());
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
