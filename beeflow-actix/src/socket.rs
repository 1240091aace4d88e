//! One upgraded connection: actix-ws messages in, [`Outgoing`] frames out, through
//! [`transport::serve`].

use std::cell::Cell;
use std::future::ready;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_ws::{AggregatedMessage, CloseCode, Closed, Message, MessageStream, ProtocolError};
use beeflow_core::Dispatcher;
use beeflow_core::transport::{self, Admission, CloseReason, Incoming, Outgoing};
use bytestring::ByteString;
use futures_util::{Sink, StreamExt};

/// Runs the connection until either side ends it.
pub(crate) async fn run(
    dispatcher: Dispatcher,
    path: String,
    admission: Admission,
    mut socket: actix_ws::Session,
    stream: MessageStream,
) {
    let limits = dispatcher.limits();
    // A single frame is a whole message, so it is bounded by both limits; the aggregator
    // bounds messages split into continuation frames.
    let stream = stream
        .max_frame_size(limits.max_frame_size().min(limits.max_message_size()))
        .aggregate_continuations()
        .max_continuation_size(limits.max_message_size());
    let connection = dispatcher.open(&path, &admission);
    let client_close = Cell::new(None);
    let incoming = stream.filter_map(|message| ready(incoming(message, &client_close)));
    let sink = Frames {
        socket: &mut socket,
        client_close: &client_close,
        closing: false,
    };
    transport::serve(connection, incoming, sink).await;
    // Dropping the socket and the stream lets actix end the response once the queued frames
    // (the closing frame among them) are written, and discard what the client still sends.
}

/// The socket as a sink of [`Outgoing`] frames.
///
/// Closing it answers the client's close frame, echoing its code (RFC 6455 §5.5.1): unlike
/// tungstenite, actix-ws leaves that to the application.
struct Frames<'a> {
    socket: &'a mut actix_ws::Session,
    client_close: &'a Cell<Option<CloseCode>>,
    closing: bool,
}

impl Sink<Outgoing> for Frames<'_> {
    type Error = Closed;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        Pin::new(&mut *self.get_mut().socket).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, frame: Outgoing) -> Result<(), Closed> {
        Pin::new(&mut *self.get_mut().socket).start_send(outgoing(frame))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        Pin::new(&mut *self.get_mut().socket).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let this = self.get_mut();
        let mut socket = Pin::new(&mut *this.socket);
        if !this.closing {
            ready!(socket.as_mut().poll_ready(cx))?;
            let reply = this.client_close.get().map(Into::into);
            socket.as_mut().start_send(Message::Close(reply))?;
            this.closing = true;
        }
        socket.poll_flush(cx)
    }
}

fn incoming(
    message: Result<AggregatedMessage, ProtocolError>,
    client_close: &Cell<Option<CloseCode>>,
) -> Option<Incoming<ByteString, Bytes>> {
    match message {
        Ok(AggregatedMessage::Text(text)) => Some(Incoming::Text(text)),
        Ok(AggregatedMessage::Binary(bytes)) => Some(Incoming::Binary(bytes)),
        // actix-ws does not answer pings: the connection queues the pong.
        Ok(AggregatedMessage::Ping(bytes)) => Some(Incoming::Ping(bytes)),
        Ok(AggregatedMessage::Pong(_)) => None,
        Ok(AggregatedMessage::Close(reason)) => {
            client_close.set(reason.map(|reason| reason.code));
            Some(Incoming::Close)
        }
        Err(error) => Some(violation(error)),
    }
}

fn violation(error: ProtocolError) -> Incoming<ByteString, Bytes> {
    match error {
        ProtocolError::Overflow => Incoming::Violation(CloseReason::TOO_BIG),
        // actix-ws reports invalid UTF-8 in a text message as `InvalidData`, a fragmented
        // message over `max_continuation_size` as a bare `Other` error, and a failed read of
        // the request payload as `Other` wrapping the `PayloadError`.
        ProtocolError::Io(error) if error.kind() == io::ErrorKind::InvalidData => {
            Incoming::Violation(CloseReason::INVALID_UTF8)
        }
        ProtocolError::Io(error)
            if error.kind() == io::ErrorKind::Other
                && error
                    .get_ref()
                    .is_some_and(|inner| !inner.is::<PayloadError>()) =>
        {
            Incoming::Violation(CloseReason::TOO_BIG)
        }
        // Any other transport error ends the connection like a client leaving.
        _ => Incoming::Close,
    }
}

fn outgoing(frame: Outgoing) -> Message {
    match frame {
        Outgoing::Text(text) => Message::Text(text.into()),
        Outgoing::Pong(data) => Message::Pong(data.into()),
        Outgoing::Close(reason) => Message::Close(Some(actix_ws::CloseReason {
            code: reason.code.into(),
            description: Some(reason.reason.to_owned()),
        })),
        // `Outgoing` is non-exhaustive; a frame kind this adapter predates closes cleanly.
        _ => Message::Close(None),
    }
}
