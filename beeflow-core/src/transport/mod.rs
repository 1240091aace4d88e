//! What a transport (an adapter for a web framework) needs: the handshake helpers and the
//! connection loop.
//!
//! The core speaks the WebSocket protocol itself, on the upgraded connection's bytes, so
//! every adapter behaves the same on the wire: the upgrade checks, the limits, frame and
//! message sizes (refused from the frame header), UTF-8, pings and pongs, keepalive,
//! timeouts, rate limits and closing. An adapter does three things:
//!
//! 1. builds an [`UpgradeRequest`] from the framework's request (path, query, HTTP version,
//!    headers, and the client's address when it knows it) and calls [`accept`], which checks
//!    it, lets the application's [`HandshakePolicy`](crate::HandshakePolicy) admit it,
//!    applies the connection limits and opens the [`Connection`];
//! 2. answers 101 with the [`Accepted`] headers, and once the framework hands over the
//!    upgraded connection, runs [`serve`] on its bytes (any `AsyncRead + AsyncWrite`);
//! 3. renders a refusal with [`Problem::to_http_json`](crate::Problem::to_http_json) as an
//!    `application/problem+json` response ([`Problem::MEDIA_TYPE`](crate::Problem::MEDIA_TYPE)),
//!    with a `Retry-After` header when [`Problem::retry_after`](crate::Problem::retry_after)
//!    says when to retry.
//!
//! When an endpoint gets its policy, the adapter calls [`check_policy`], which logs every
//! action whose `Identity<T>` the policy can never give.
//!
//! [`serve`] requires no `Send`: actix-web's request payload is `!Send`, and axum adds `Send`
//! at its own spawn site.

mod accept;
mod concurrent;
mod serve;
mod watched;
mod wiring;
mod woken;

pub mod sse;

pub use self::accept::{Accepted, UpgradeRequest, accept};
pub use self::serve::{Ended, serve};
pub use self::wiring::{IdentityMismatch, check_policy};
pub use crate::connection::Connection;
#[cfg(feature = "msgpack")]
pub use crate::handshake::MSGPACK_PROTOCOL;
pub use crate::handshake::{ACCESS_TOKEN_PROTOCOL, Admission, V2_PROTOCOL};
pub use crate::outbound::{CloseReason, Outgoing};
pub use crate::problem::ProblemTypeBase;
