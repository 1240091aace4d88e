//! What a transport (an adapter for a web framework) needs: the handshake, the connection
//! loop, and the frames it moves.
//!
//! An adapter does four things, and everything else lives in the core:
//!
//! 1. reads the upgrade request's headers with [`text_headers`] and refuses a request that
//!    is not a WebSocket upgrade with [`check_upgrade`]'s Problem;
//! 2. asks the application's [`HandshakePolicy`](crate::HandshakePolicy) to
//!    [`admit`](crate::HandshakePolicy::admit) it, and selects the [`Admission`]'s
//!    [`protocol`](Admission::protocol) in its 101 response;
//! 3. opens a [`Connection`] with [`Dispatcher::open`](crate::Dispatcher::open) and runs
//!    [`serve`] with the socket as a `Stream` of [`Incoming`] frames and a `Sink` of
//!    [`Outgoing`] frames;
//! 4. renders every refusal with [`Problem::to_http_json`](crate::Problem::to_http_json) as
//!    an `application/problem+json` response ([`Problem::MEDIA_TYPE`](crate::Problem::MEDIA_TYPE)).
//!
//! [`serve`] requires no `Send`: actix-web's payload stream is `!Send`, and axum adds `Send`
//! at its own spawn site.

use futures_util::future::{Either, select};
use futures_util::{Sink, SinkExt, Stream, StreamExt};

pub use crate::connection::Connection;
use crate::connection::Inbound;
pub use crate::handshake::{ACCESS_TOKEN_PROTOCOL, Admission, check_upgrade, text_headers};
pub use crate::outbound::{CloseReason, Outgoing};
pub use crate::problem::ProblemTypeBase;

/// One frame read from a socket, as the adapter's own buffer types.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming<T, B> {
    /// A complete text message.
    Text(T),
    /// A complete binary message.
    Binary(B),
    /// A ping the transport did not answer itself; the connection queues the pong.
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
    /// The server closed it with this reason: written to the sink, except for a slow
    /// consumer whose socket stopped taking data (then the connection is just dropped).
    ServerClosed(CloseReason),
    /// Writing to the socket failed.
    WriteFailed,
}

/// Runs one connection until the client leaves, the server closes it, or writing fails.
///
/// Inbound frames are handled one at a time in arrival order while queued outbound frames
/// are written concurrently, so a handler streaming many events never waits for its own
/// queue to drain.
pub async fn serve<T, B, S, K>(connection: Connection, incoming: S, mut sink: K) -> Ended
where
    T: AsRef<str>,
    B: AsRef<[u8]>,
    S: Stream<Item = Incoming<T, B>>,
    K: Sink<Outgoing> + Unpin,
{
    let Connection {
        mut requests,
        queue: mut outbound,
    } = connection;
    let overflow = outbound.overflow_signal();
    let outbound_overflowed = overflow.overflowed();
    let ended = {
        let reader = async {
            let mut incoming = std::pin::pin!(incoming);
            while let Some(frame) = incoming.next().await {
                let inbound = match &frame {
                    Incoming::Text(text) => Inbound::Text(text.as_ref()),
                    Incoming::Binary(bytes) => Inbound::Binary(bytes.as_ref()),
                    Incoming::Ping(bytes) => Inbound::Ping(bytes.as_ref()),
                    Incoming::Close => break,
                    Incoming::Violation(reason) => return Some(*reason),
                };
                // Boxed so the ~1 KiB handler state exists only while a frame is handled,
                // not inside every idle connection's task.
                Box::pin(requests.handle(inbound)).await;
            }
            None
        };
        let writer = async {
            while let Some(first) = outbound.recv().await {
                // Write everything queued now, then flush once: pipelined replies and
                // fan-outs leave in as few socket writes as the transport allows.
                let mut next = Some(first);
                while let Some(frame) = next.take() {
                    let close = match frame {
                        Outgoing::Close(reason) => Some(reason),
                        _ => None,
                    };
                    if sink.feed(frame).await.is_err() {
                        return Ended::WriteFailed;
                    }
                    if let Some(reason) = close {
                        return match sink.flush().await {
                            Ok(()) => Ended::ServerClosed(reason),
                            Err(_) => Ended::WriteFailed,
                        };
                    }
                    next = outbound.try_recv();
                }
                if sink.flush().await.is_err() {
                    return Ended::WriteFailed;
                }
            }
            Ended::ClientClosed
        };
        // A writer blocked on a socket the client stopped reading would never see the
        // queue overflow; this gives up on the connection instead. A writer that is not
        // blocked is polled first and sends the 1008 close frame itself.
        let stalled = async {
            outbound_overflowed.await;
            Ended::ServerClosed(CloseReason::SLOW_CONSUMER)
        };
        let (reader, writer, stalled) = (
            std::pin::pin!(reader),
            std::pin::pin!(writer),
            std::pin::pin!(stalled),
        );
        match select(reader, select(writer, stalled)).await {
            Either::Left((None, _)) => Ok(Ended::ClientClosed),
            Either::Left((Some(violation), _)) => Err(violation),
            Either::Right((Either::Left((ended, _)) | Either::Right((ended, _)), _)) => Ok(ended),
        }
    };
    let ended = match ended {
        Ok(Ended::ClientClosed) => {
            // Completes the closing handshake: the transport answers the client's close
            // frame and flushes it before the socket is dropped.
            let _ = sink.close().await;
            Ended::ClientClosed
        }
        Ok(ended) => ended,
        // The writer future is gone, so the sink is free for the closing frame.
        Err(violation) => match sink.send(Outgoing::Close(violation)).await {
            Ok(()) => Ended::ServerClosed(violation),
            Err(_) => Ended::WriteFailed,
        },
    };
    // The connection leaves the hub once the loop is over.
    drop(requests);
    ended
}
