//! The checks every adapter runs on an upgrade request before the policy sees it, so that
//! both read a request, and refuse a plain one, the same way.

use crate::problem::Problem;

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

/// Checks that a request's headers ask for a WebSocket upgrade (RFC 6455 §4.2.1), so every
/// adapter refuses a plain request with the same Problem.
///
/// The order of the checks and their texts are axum 0.8's: the core knows no framework, but
/// had it used texts of its own, a request that passes these checks and is then refused by
/// axum's own extractor would read differently on the two adapters.
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::headers;

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
}
