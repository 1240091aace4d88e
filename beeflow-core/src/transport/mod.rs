//! What a transport (an adapter for a web framework) needs: the handshake helpers and the
//! connection loop.
//!
//! The core speaks the WebSocket protocol itself, on the upgraded connection's bytes, so
//! every adapter behaves the same on the wire: frame and message limits (refused from the
//! frame header), UTF-8 checks, pings and pongs, keepalive, timeouts and closing. An
//! adapter does four things:
//!
//! 1. reads the upgrade request's headers with [`text_headers`] and refuses a request that
//!    is not a WebSocket upgrade with [`check_upgrade`]'s Problem;
//! 2. asks the application's [`HandshakePolicy`](crate::HandshakePolicy) to
//!    [`admit`](crate::HandshakePolicy::admit) it, and answers 101 with the headers of
//!    [`switching_protocols`];
//! 3. once the connection is upgraded, opens a [`Connection`] with
//!    [`Dispatcher::open`](crate::Dispatcher::open) and runs [`serve`] on the connection's
//!    bytes (any `AsyncRead + AsyncWrite`);
//! 4. renders every refusal with [`Problem::to_http_json`](crate::Problem::to_http_json) as
//!    an `application/problem+json` response ([`Problem::MEDIA_TYPE`](crate::Problem::MEDIA_TYPE)).
//!
//! [`serve`] requires no `Send`: actix-web's request payload is `!Send`, and axum adds `Send`
//! at its own spawn site.

mod serve;
mod watched;

pub use self::serve::{Ended, serve};
pub use crate::connection::Connection;
pub use crate::handshake::{
    ACCESS_TOKEN_PROTOCOL, Admission, check_upgrade, switching_protocols, text_headers,
};
pub use crate::outbound::{CloseReason, Outgoing};
pub use crate::problem::ProblemTypeBase;
