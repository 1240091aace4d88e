//! The upgraded connection's bytes as one `AsyncRead + AsyncWrite`: actix hands them over as
//! the request's payload (in) and the 101 response's streamed body (out).
//!
//! Writes go to the body through a small bounded channel, so a client that stops reading
//! holds the writer back (the core then sees a write that makes no progress) instead of
//! growing a buffer.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use futures_channel::mpsc;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Chunks written but not yet taken by actix for the socket.
const BODY_CHUNKS: usize = 4;

/// The socket side the core reads and writes.
pub(crate) struct Socket {
    payload: Payload,
    chunk: Bytes,
    body: mpsc::Sender<Bytes>,
}

impl Socket {
    /// The socket, and the stream of bytes to send as the response body.
    pub(crate) fn new(
        payload: Payload,
    ) -> (
        Self,
        impl Stream<Item = Result<Bytes, Infallible>> + 'static,
    ) {
        let (body, chunks) = mpsc::channel(BODY_CHUNKS);
        let socket = Self {
            payload,
            chunk: Bytes::new(),
            body,
        };
        (socket, chunks.map(Ok))
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.chunk.is_empty() {
            match ready!(Pin::new(&mut this.payload).poll_next(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(error)) => return Poll::Ready(Err(io::Error::other(error))),
                // The client closed its side: end of stream.
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.chunk.len().min(buf.remaining());
        buf.put_slice(&this.chunk.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.body.poll_ready(cx)).map_err(closed)?;
        this.body
            .start_send(Bytes::copy_from_slice(data))
            .map_err(closed)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // What is in the channel is actix's to write; there is nothing more to push.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Ends the response body once actix has written what is queued.
        self.get_mut().body.close_channel();
        Poll::Ready(Ok(()))
    }
}

fn closed(_: mpsc::SendError) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the connection is closed")
}
