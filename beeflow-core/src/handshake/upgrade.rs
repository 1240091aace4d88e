//! The checks every adapter runs on an upgrade request before the policy sees it, so that
//! both read a request, and refuse a plain one, the same way.

use base64::Engine as _;

use super::Admission;
use crate::problem::Problem;

/// The headers of a request as the policy reads them: names with their text values. A
/// value that is not visible ASCII is read as empty, never left out: a check of that header
/// then fails closed (an `Origin` with a stray byte is not "no `Origin`").
pub(crate) fn text_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let visible = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
            let value = if visible {
                // Visible ASCII is valid UTF-8.
                String::from_utf8_lossy(value).into_owned()
            } else {
                String::new()
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// Checks that a request asks for a WebSocket upgrade (RFC 6455 §4.2.1), so every adapter
/// refuses a plain or malformed request with the same Problem. `http_version` is the
/// request's (major, minor) version.
///
/// The first four checks, in this order and with these texts, are the ones axum 0.8 makes:
/// the core knows no framework, but a client should read the same refusal from either
/// adapter, and axum's texts were there first.
///
/// # Errors
///
/// `websocket_upgrade_required`: 400 naming the first header that is missing or wrong, or
/// 426 for a request that is not HTTP/1.1.
pub(crate) fn check_upgrade(
    http_version: (u8, u8),
    headers: &[(String, String)],
) -> Result<(), Problem> {
    let first = |name: &str| first_header(headers, name);
    let refused = |detail: &'static str| Err(Problem::websocket_upgrade_required(400, detail));
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
    if http_version != (1, 1) {
        return Err(Problem::websocket_upgrade_required(
            426,
            "WebSocket upgrades need HTTP/1.1",
        ));
    }
    let key = first("sec-websocket-key").unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if !decoded.is_ok_and(|key| key.len() == 16) {
        return refused("`Sec-WebSocket-Key` header is not 16 base64-encoded bytes");
    }
    Ok(())
}

/// The headers of the 101 response to a request [`check_upgrade`] accepted and the policy
/// admitted: `Upgrade`, `Connection`, `Sec-WebSocket-Accept` (derived from the request's
/// key) and, when the client offered it, the one subprotocol the admission selects (never
/// the token).
pub(crate) fn switching_protocols(
    headers: &[(String, String)],
    admission: &Admission,
) -> Vec<(&'static str, String)> {
    let key = first_header(headers, "sec-websocket-key").unwrap_or_default();
    let mut response = vec![
        ("upgrade", "websocket".to_owned()),
        ("connection", "Upgrade".to_owned()),
        (
            "sec-websocket-accept",
            tungstenite::handshake::derive_accept_key(key.as_bytes()),
        ),
    ];
    if let Some(protocol) = admission.protocol() {
        response.push(("sec-websocket-protocol", protocol.to_owned()));
    }
    response
}

fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::headers;

    #[test]
    fn only_text_header_values_are_read() {
        let raw: [(&str, &[u8]); 3] = [("a", b"x\ty"), ("b", b"\xff"), ("c", b"bell\x07")];
        assert_eq!(
            text_headers(raw),
            [
                ("a".to_owned(), "x\ty".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn upgrade_headers_are_checked_in_order() {
        let valid = [
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "WebSocket"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        assert!(check_upgrade((1, 1), &headers(&valid)).is_ok());
        for (missing, detail) in [
            (0, "Connection header did not include 'upgrade'"),
            (1, "`Upgrade` header did not include 'websocket'"),
            (2, "`Sec-WebSocket-Key` header missing"),
            (3, "`Sec-WebSocket-Version` header did not include '13'"),
        ] {
            let mut partial = valid.to_vec();
            partial.remove(missing);
            let problem = check_upgrade((1, 1), &headers(&partial)).unwrap_err();
            assert_eq!((problem.status(), problem.detail()), (400, detail));
            assert_eq!(problem.code(), "websocket_upgrade_required");
        }
    }

    #[test]
    fn only_http_1_1_with_a_16_byte_key_is_upgraded() {
        let mut request = vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        let problem = check_upgrade((1, 0), &headers(&request)).unwrap_err();
        assert_eq!(problem.status(), 426);
        for key in ["abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZSE="] {
            request[2].1 = key;
            let problem = check_upgrade((1, 1), &headers(&request)).unwrap_err();
            assert_eq!(problem.status(), 400, "{key}");
            assert!(problem.detail().contains("16 base64-encoded bytes"));
        }
    }

    #[test]
    fn the_101_accepts_the_key_and_selects_only_the_marker() {
        let request = headers(&[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]);
        let admitted = Admission::guest().with_protocol(Some("access-token"));
        let response = switching_protocols(&request, &admitted);
        // The example of RFC 6455 §1.3.
        assert!(response.contains(&(
            "sec-websocket-accept",
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned()
        )));
        assert!(response.contains(&("sec-websocket-protocol", "access-token".to_owned())));
        assert!(
            !switching_protocols(&request, &Admission::guest())
                .iter()
                .any(|(name, _)| *name == "sec-websocket-protocol")
        );
    }
}
