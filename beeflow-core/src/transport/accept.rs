//! Everything between an upgrade request and its 101: the checks, the policy, the limits,
//! and the connection, in one call so every adapter does them in the same order.

use std::net::IpAddr;

use crate::connection::Connection;
use crate::dispatch::Dispatcher;
use crate::handshake::{
    Admission, HandshakePolicy, check_upgrade, switching_protocols, text_headers,
};
use crate::problem::Problem;
use crate::rate::Limited;

/// An upgrade request as the core reads it, whatever the framework.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    http_version: (u8, u8),
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    headers: Vec<(String, String)>,
    header_bytes: usize,
    peer: Option<IpAddr>,
}

impl UpgradeRequest {
    /// A request for `path` (without the query string), with its raw `query`, its HTTP
    /// version as (major, minor), and its headers as names and raw values.
    ///
    /// A header value that is not visible ASCII is kept as an empty value, so a check that
    /// needs it (the `Origin`) fails rather than passing as if the header were absent.
    pub fn new<'a>(
        http_version: (u8, u8),
        path: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let mut header_bytes = 0;
        let headers = text_headers(headers.into_iter().inspect(|(name, value)| {
            header_bytes += name.len() + value.len();
        }));
        Self {
            http_version,
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers,
            header_bytes,
            peer: None,
        }
    }

    /// The client's address, for the per-address upgrade limit.
    #[must_use]
    pub fn with_peer(mut self, peer: IpAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// The request path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An accepted upgrade: the headers of the 101 to send, and the connection to serve once the
/// framework hands over the upgraded bytes.
#[derive(Debug)]
pub struct Accepted {
    headers: Vec<(&'static str, String)>,
    connection: Connection,
}

impl Accepted {
    /// The headers of the 101 response (`Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
    /// and the selected subprotocol, if any).
    pub fn response_headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// The connection, to run with [`serve`](super::serve).
    pub fn into_connection(self) -> Connection {
        self.connection
    }
}

/// Decides on an upgrade request for `dispatcher`: checks that it is a WebSocket upgrade,
/// refuses it while the node shuts down or when its client address upgrades too often, lets
/// `policy` admit it (within [`Limits::handshake_timeout`](crate::Limits::handshake_timeout)),
/// and opens the connection within the connection limits.
///
/// # Errors
///
/// The Problem to send as an `application/problem+json` response:
/// `websocket_upgrade_required` (400/426), `shutting_down` (503), `rate_limited` (429, with
/// `Retry-After`), whatever the policy refused with (401/403), `handshake_timed_out` (408),
/// `too_many_connections` (429) or `server_full` (503).
pub async fn accept(
    dispatcher: &Dispatcher,
    policy: &HandshakePolicy,
    request: UpgradeRequest,
) -> Result<Accepted, Problem> {
    let accepted = decide(dispatcher, policy, request).await;
    if let Err(problem) = &accepted {
        dispatcher.node().telemetry.upgrade_refused(problem.code());
    }
    accepted
}

async fn decide(
    dispatcher: &Dispatcher,
    policy: &HandshakePolicy,
    request: UpgradeRequest,
) -> Result<Accepted, Problem> {
    let header_limit = dispatcher.node().limits.max_header_bytes();
    if request.header_bytes > header_limit {
        return Err(Problem::headers_too_large(header_limit));
    }
    check_upgrade(request.http_version, &request.headers)?;
    let admission = admit(dispatcher, policy, &request, true).await?;
    let connection = dispatcher.open(&request.path, &admission)?;
    Ok(Accepted {
        headers: switching_protocols(&request.headers, &admission),
        connection,
    })
}

/// What every way in shares (a WebSocket upgrade, an SSE stream, an SSE action): the header
/// limit, the shutdown, the per-address rate of requests that `open` a connection, and the
/// policy within the handshake timeout. (An SSE action opens none: it counts against its
/// connection's action rate instead, once handled.)
pub(crate) async fn admit(
    dispatcher: &Dispatcher,
    policy: &HandshakePolicy,
    request: &UpgradeRequest,
    opens: bool,
) -> Result<Admission, Problem> {
    let node = dispatcher.node();
    let header_limit = node.limits.max_header_bytes();
    if request.header_bytes > header_limit {
        return Err(Problem::headers_too_large(header_limit));
    }
    if dispatcher.is_shutting_down() {
        return Err(Problem::shutting_down());
    }
    if let Some(peer) = request.peer.filter(|_| opens) {
        node.rates
            .upgrade(peer)
            .map_err(|Limited(wait)| Problem::rate_limited(wait))?;
    }
    let admitting = policy.admit(
        &request.path,
        request.query.as_deref(),
        request.headers.clone(),
    );
    tokio::time::timeout(node.limits.handshake_timeout(), admitting)
        .await
        .map_err(|_| Problem::handshake_timed_out())?
}
