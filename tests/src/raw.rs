//! A WebSocket client that writes and reads frames byte by byte: for the attacks a
//! well-behaved client library will not make (a frame left unfinished, pings left
//! unanswered, many requests in one write).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TIMEOUT;

/// Text frame opcode.
pub const TEXT: u8 = 0x1;
/// Continuation frame opcode.
pub const CONTINUATION: u8 = 0x0;
/// Close frame opcode.
pub const CLOSE: u8 = 0x8;
/// Ping frame opcode.
pub const PING: u8 = 0x9;
/// Pong frame opcode.
pub const PONG: u8 = 0xA;

/// One frame the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Whether it ends its message.
    pub fin: bool,
    /// Its opcode.
    pub opcode: u8,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// A raw connection, upgraded.
#[derive(Debug)]
pub struct RawSocket {
    stream: TcpStream,
}

impl RawSocket {
    /// Connects to `addr`, upgrades on `path` as a guest, and checks the 101.
    ///
    /// # Panics
    ///
    /// When the server does not answer 101 within [`TIMEOUT`].
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("the server listens");
        stream.set_nodelay(true).expect("nodelay");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        // Read the response head byte by byte: nothing after it may be consumed here.
        let mut head = Vec::new();
        let read_head = async {
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await.expect("the response head"));
            }
        };
        tokio::time::timeout(TIMEOUT, read_head)
            .await
            .expect("a 101 within the timeout");
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self { stream }
    }

    /// Writes raw bytes (frames made with [`client_frame`], or parts of them).
    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next frame from the server, or `None` when the connection ended (closed, reset,
    /// or nothing within `TIMEOUT`).
    pub async fn read_frame(&mut self) -> Option<Frame> {
        tokio::time::timeout(TIMEOUT, self.read_frame_unbounded())
            .await
            .ok()
            .flatten()
    }

    async fn read_frame_unbounded(&mut self) -> Option<Frame> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).await.ok()?;
        let len = match head[1] & 0x7f {
            126 => u64::from(self.stream.read_u16().await.ok()?),
            127 => self.stream.read_u64().await.ok()?,
            n => u64::from(n),
        };
        let mut payload = vec![0; usize::try_from(len).ok()?];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some(Frame {
            fin: head[0] & 0x80 != 0,
            opcode: head[0] & 0x0f,
            payload,
        })
    }

    /// Reads until a close frame and returns its code (`None`: the connection ended without
    /// one). Data and control frames before it are skipped.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let frame = self.read_frame().await?;
            if frame.opcode == CLOSE {
                return frame.close_code();
            }
        }
    }
}

/// A masked client frame (the mask is fixed: the tests need no secrecy).
pub fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![(u8::from(fin) << 7) | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&len.to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}
