//! The connection loop every adapter runs: frames from the socket into a [`Session`],
//! frames from its [`Outbound`] queue onto the socket, until either side ends.
//!
//! It is generic over any `Stream` of [`Incoming`] frames and any `Sink` of [`OutFrame`]s,
//! and requires no `Send`: actix-web's payload stream is `!Send`, and axum adds `Send` at
//! its own spawn site.

use futures_util::future::{Either, select};
use futures_util::{Sink, SinkExt, Stream, StreamExt};

use crate::hub::{CloseReason, OutFrame, Outbound};
use crate::session::{Inbound, Session};

/// One frame read from a socket, as the adapter's own buffer types.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming<T, B> {
    /// A complete text message.
    Text(T),
    /// A complete binary message.
    Binary(B),
    /// A ping the transport did not answer itself; the session queues the pong.
    Ping(B),
    /// The client closed the connection.
    Close,
    /// The client broke a protocol rule the transport detected (e.g. 1009 for a message over
    /// the limit, 1007 for invalid UTF-8 in a text frame); the connection closes with it.
    Violation(CloseReason),
}

/// Why the connection loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended {
    /// The client closed the connection or the stream ended.
    ClientClosed,
    /// The server closed it with this reason (already written to the sink).
    ServerClosed(CloseReason),
    /// Writing to the socket failed.
    WriteFailed,
}

impl CloseReason {
    /// 1009: a message exceeded the configured maximum size.
    pub const TOO_BIG: Self = Self {
        code: 1009,
        reason: "message too big",
    };

    /// 1007: a text frame held invalid UTF-8.
    pub const INVALID_UTF8: Self = Self {
        code: 1007,
        reason: "invalid UTF-8 in text frame",
    };
}

/// Runs one connection until the client leaves, the server closes it, or writing fails.
///
/// Inbound frames are handled one at a time in arrival order while queued outbound frames
/// are written concurrently, so a handler streaming many events never waits for its own
/// queue to drain.
pub async fn serve<T, B, S, K>(
    mut session: Session,
    mut outbound: Outbound,
    incoming: S,
    mut sink: K,
) -> Ended
where
    T: AsRef<str>,
    B: AsRef<[u8]>,
    S: Stream<Item = Incoming<T, B>>,
    K: Sink<OutFrame> + Unpin,
{
    let ended = {
        let reader = async {
            let mut incoming = std::pin::pin!(incoming);
            while let Some(frame) = incoming.next().await {
                match frame {
                    Incoming::Text(text) => session.handle(Inbound::Text(text.as_ref())).await,
                    Incoming::Binary(bytes) => {
                        session.handle(Inbound::Binary(bytes.as_ref())).await;
                    }
                    Incoming::Ping(bytes) => session.handle(Inbound::Ping(bytes.as_ref())).await,
                    Incoming::Close => break,
                    Incoming::Violation(reason) => return Some(reason),
                }
            }
            None
        };
        let writer = async {
            while let Some(frame) = outbound.recv().await {
                let close = match frame {
                    OutFrame::Close(reason) => Some(reason),
                    _ => None,
                };
                if sink.send(frame).await.is_err() {
                    return Ended::WriteFailed;
                }
                if let Some(reason) = close {
                    return Ended::ServerClosed(reason);
                }
            }
            Ended::ClientClosed
        };
        let (reader, writer) = (std::pin::pin!(reader), std::pin::pin!(writer));
        match select(reader, writer).await {
            Either::Left((None, _)) => Ok(Ended::ClientClosed),
            Either::Left((Some(violation), _)) => Err(violation),
            Either::Right((ended, _)) => Ok(ended),
        }
    };
    match ended {
        Ok(ended) => ended,
        // The writer future is gone, so the sink is free for the closing frame.
        Err(violation) => match sink.send(OutFrame::Close(violation)).await {
            Ok(()) => Ended::ServerClosed(violation),
            Err(_) => Ended::WriteFailed,
        },
    }
}
