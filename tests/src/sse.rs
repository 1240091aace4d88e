//! A Server-Sent Events client over a raw socket, reading the stream as `curl --no-buffer`
//! would: the response head, then the chunked body as it arrives, cut into events.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TIMEOUT;

/// One event of the stream, or a comment line (`: keepalive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:`, if the event had one.
    pub id: Option<String>,
    /// `event:`, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines, joined by newlines.
    pub data: String,
    /// The comment, for a comment.
    pub comment: Option<String>,
}

impl SseEvent {
    /// The data as JSON.
    ///
    /// # Panics
    ///
    /// When the data is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// An open stream.
#[derive(Debug)]
pub struct SseClient {
    stream: TcpStream,
    /// The response's status.
    pub status: u16,
    /// The response's headers.
    pub headers: Vec<(String, String)>,
    /// Decoded body bytes not yet cut into events.
    body: Vec<u8>,
    /// Raw bytes not yet de-chunked.
    raw: Vec<u8>,
    /// Whether the body is chunked (else it is read as it comes, to the end).
    chunked: bool,
    /// Set once the server ended the body.
    pub ended: bool,
}

impl SseClient {
    /// `GET path` with `Accept: text/event-stream` and `headers` (each `Name: value`).
    ///
    /// # Panics
    ///
    /// When the server does not answer with a head within [`TIMEOUT`].
    pub async fn open(addr: SocketAddr, path: &str, headers: &[&str]) -> Self {
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let mut stream = TcpStream::connect(addr).await.expect("the server listens");
        stream.write_all(request.as_bytes()).await.expect("written");
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = tokio::time::timeout(TIMEOUT, async {
            loop {
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "closed before the response head");
                raw.extend_from_slice(&chunk[..n]);
                if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            }
        })
        .await
        .expect("a response head within the timeout");
        let head = String::from_utf8(raw[..head_end].to_vec()).expect("a text head");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok());
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        Self {
            stream,
            status: status.expect("a status"),
            headers,
            body: Vec::new(),
            raw: raw[head_end..].to_vec(),
            chunked,
            ended: false,
        }
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The rest of the body, for a response that is not a stream (a refusal).
    pub async fn rest(mut self) -> String {
        while !self.ended {
            self.fill().await;
        }
        String::from_utf8(self.body).expect("a text body")
    }

    /// The next event or comment; `None` once the server ended the stream.
    ///
    /// # Panics
    ///
    /// When nothing arrives within [`TIMEOUT`].
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(at) = self.body.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.body.drain(..at + 2).collect();
                return Some(parse(&String::from_utf8(block).expect("UTF-8 events")));
            }
            if self.ended {
                return None;
            }
            self.fill().await;
        }
    }

    /// The next event that is not a comment.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let event = self.next().await?;
            if event.comment.is_none() {
                return Some(event);
            }
        }
    }

    async fn fill(&mut self) {
        if self.chunked {
            let before = self.body.len();
            self.dechunk();
            if self.ended || self.body.len() > before {
                return;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(TIMEOUT, self.stream.read(&mut chunk))
            .await
            .expect("the stream goes on within the timeout")
            .unwrap_or(0);
        if n == 0 {
            self.ended = true;
            return;
        }
        if self.chunked {
            self.raw.extend_from_slice(&chunk[..n]);
            self.dechunk();
        } else {
            self.body.extend_from_slice(&chunk[..n]);
        }
    }

    /// Moves every complete chunk from `raw` to `body`.
    fn dechunk(&mut self) {
        while let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") {
            let size_line = String::from_utf8_lossy(&self.raw[..line_end]).into_owned();
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .expect("a chunk size");
            if size == 0 {
                self.ended = true;
                self.raw.clear();
                return;
            }
            let start = line_end + 2;
            if self.raw.len() < start + size + 2 {
                return;
            }
            self.body.extend_from_slice(&self.raw[start..start + size]);
            self.raw.drain(..start + size + 2);
        }
    }
}

fn parse(block: &str) -> SseEvent {
    let mut event = SseEvent {
        id: None,
        event: None,
        data: String::new(),
        comment: None,
    };
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            event.comment = Some(comment.trim().to_owned());
        } else if let Some((field, value)) = line.split_once(':') {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => event.id = Some(value.to_owned()),
                "event" => event.event = Some(value.to_owned()),
                "data" => data.push(value.to_owned()),
                _ => {}
            }
        }
    }
    event.data = data.join("\n");
    event
}
