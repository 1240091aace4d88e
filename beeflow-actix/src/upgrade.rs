//! Which requests are WebSocket upgrades, and the Problem for those that are not.
//!
//! The checks and their texts are axum 0.8's (`WebSocketUpgrade`'s rejections), in the same
//! order, so a request that is not an upgrade gets the same Problem from either adapter.

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderName};
use beeflow_core::Problem;

/// `Ok` when `request` asks for a WebSocket upgrade (RFC 6455 §4.2.1), else the Problem to
/// answer it with.
pub(crate) fn check(request: &HttpRequest) -> Result<(), Problem> {
    let headers = request.headers();
    let first = |name: HeaderName| headers.get(name).map(|value| value.as_bytes());
    let connection_upgrade = first(header::CONNECTION)
        .and_then(|value| std::str::from_utf8(value).ok())
        .is_some_and(|value| value.to_ascii_lowercase().contains("upgrade"));
    if !connection_upgrade {
        return Err(refused(400, "Connection header did not include 'upgrade'"));
    }
    if !first(header::UPGRADE).is_some_and(|value| value.eq_ignore_ascii_case(b"websocket")) {
        return Err(refused(400, "`Upgrade` header did not include 'websocket'"));
    }
    if first(header::SEC_WEBSOCKET_KEY).is_none() {
        return Err(refused(400, "`Sec-WebSocket-Key` header missing"));
    }
    if first(header::SEC_WEBSOCKET_VERSION) != Some(b"13".as_slice()) {
        return Err(refused(
            400,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    Ok(())
}

/// `websocket_upgrade_required`: the request cannot be upgraded, for the reason in `detail`.
pub(crate) fn refused(status: u16, detail: impl Into<Cow<'static, str>>) -> Problem {
    Problem::new(
        status,
        "websocket_upgrade_required",
        "upgrade-required",
        "WebSocket upgrade required",
    )
    .with_detail(detail)
}
