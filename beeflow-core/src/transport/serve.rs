//! The connection loop: the WebSocket protocol on a socket's bytes, requests into the
//! [`Connection`], its queued frames onto the socket, until either side ends.
//!
//! Five futures run side by side in one task:
//! - the reader takes one message at a time and hands it to the connection, waiting first
//!   for room in the connection's queue (so a client that asks faster than it reads is
//!   slowed down by TCP rather than disconnected);
//! - the writer drains the queue onto the socket, flushing once per batch;
//! - the watchdog sends keepalive pings and enforces the time limits (keepalive, a message
//!   in flight, a write that makes no progress);
//! - the overflow watch gives up on a connection whose queue overflowed while its writer is
//!   stuck on a socket the client stopped reading;
//! - the shutdown watch closes the connection with 1001 when the node shuts down, and drops
//!   it at the shutdown's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::{BoxFuture, Either, select};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes};
use tracing::Instrument;

use super::concurrent::Running;
use super::watched::{Clock, Progress, Watched};
use super::woken::Woken;
use crate::connection::{Connection, Inbound, Requests};
use crate::limits::Limits;
use crate::node::Phase;
use crate::outbound::{CloseReason, OutboundQueue, Outgoing, Queued};

/// A request the loop started, boxed so its state lives only while it runs.
enum Started<'a> {
    /// Runs before the next frame is read.
    InOrder(BoxFuture<'a, ()>),
    /// Runs beside the requests read after it (`#[action(concurrent)]`).
    Concurrent(BoxFuture<'static, ()>),
}

/// Checks a text frame and starts its request, if it gets one. A plain function, and the
/// request owns the frame: neither becomes part of the connection loop's own state, which
/// every idle connection carries.
fn start(requests: &mut Requests, text: Utf8Bytes) -> Option<Started<'_>> {
    let prepared = requests.prepare(text.as_str())?;
    if prepared.concurrent() {
        let runner = requests.runner().clone();
        return Some(Started::Concurrent(Box::pin(async move {
            runner.run(prepared, text.as_str()).await;
        })));
    }
    let runner = requests.runner();
    Some(Started::InOrder(Box::pin(async move {
        runner.run(prepared, text.as_str()).await;
    })))
}

/// Why the connection loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended {
    /// The client closed the connection or the stream ended.
    ClientClosed,
    /// The server closed it with this reason: written to the socket, except for a slow
    /// consumer whose socket stopped taking data (then the connection is just dropped).
    ServerClosed(CloseReason),
    /// Writing to the socket failed.
    WriteFailed,
    /// Writing to the socket made no progress for [`Limits::write_timeout`]: the client
    /// stopped reading, or its network is gone. The connection is dropped.
    WriteStalled,
    /// The connection was still open at the deadline of
    /// [`Dispatcher::shutdown`](crate::Dispatcher::shutdown), and was dropped.
    ShutDown,
}

/// Runs one WebSocket connection on `io`, the upgraded connection's bytes, until the client
/// leaves, the server closes it, or writing fails.
///
/// Messages are handled one at a time in arrival order while queued frames are written
/// concurrently, so a handler streaming many events never waits for its own queue to drain.
pub fn serve<S>(connection: Connection, io: S) -> impl Future<Output = Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let span = tracing::info_span!(
        "connection",
        id = %connection.id(),
        user = connection.requests.user_id(),
    );
    run(connection, io).instrument(crate::telemetry::wanted(span))
}

// Not `async fn`s: every idle connection's task holds this future, and an `async fn` keeps
// its arguments in its state for its whole life, beside the locals made from them. The
// async block below captures each part once.
fn run<S>(connection: Connection, io: S) -> impl Future<Output = Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Connection {
        mut requests,
        queue: mut outbound,
    } = connection;
    // The connection leaves the hub when `requests` drops, once the loop is over.
    async move { run_loop(&mut requests, &mut outbound, io).await }
}

async fn run_loop<S>(requests: &mut Requests, outbound: &mut OutboundQueue, io: S) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let node = requests.node();
    let limits = &node.limits;
    let mailbox = outbound.mailbox().clone();
    let clock = Clock::start();
    let progress = Arc::new(Progress::default());
    let io = Watched::new(io, progress.clone(), clock);
    // Boxed, as are the closing steps below: futures that run once need not take room in
    // every idle connection's task.
    let socket = Box::pin(WebSocketStream::from_raw_socket(
        io,
        Role::Server,
        Some(config(limits)),
    ))
    .await;
    let (mut sink, mut stream) = socket.split();
    // Concurrent requests running now (see `Running`), for the shutdown watch.
    let in_flight = AtomicUsize::new(0);

    let stop = {
        let reader = async {
            // Every wait that must also drive running concurrent requests is boxed: it is
            // taken only while some run, and boxed it adds nothing to an idle connection's
            // task.
            let mut running = Running::new(&in_flight);
            loop {
                // Room for the reply before the request is read: TCP holds the rest back. A
                // queue that takes nothing more is closing: the writer sends what is queued,
                // the close frame last, and ends the loop.
                let room = if running.is_empty() {
                    mailbox.room().await
                } else {
                    Box::pin(running.alongside(mailbox.room())).await
                };
                if !room {
                    return std::future::pending().await;
                }
                progress.resume_reading(&clock);
                // A shutdown that began while the loop was away from the socket (`phases`
                // below leaves the connection to it then) takes effect before the next read,
                // once the concurrent requests still running are done.
                if node.phase() != Phase::Running {
                    Box::pin(running.all_finished()).await;
                    mailbox.finish(CloseReason::GOING_AWAY);
                    return std::future::pending().await;
                }
                let next = if running.is_empty() {
                    stream.next().await
                } else {
                    match Box::pin(running.next_frame(&mut stream, &node)).await {
                        Some(next) => next,
                        // The last concurrent request of a draining connection is done.
                        None => {
                            mailbox.finish(CloseReason::GOING_AWAY);
                            return std::future::pending().await;
                        }
                    }
                };
                progress.pause_reading();
                // The message becomes a boxed request before anything is awaited, so neither
                // it nor the handler's state is part of every idle connection's task.
                let started = match next {
                    Some(Ok(Message::Text(text))) => {
                        progress.data_done();
                        start(requests, text)
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        progress.data_done();
                        // A MessagePack connection's frame is read as the JSON it stands
                        // for; any other binary frame is an invalid message.
                        match requests.binary_as_text(&bytes) {
                            Some(text) => start(requests, text.into()),
                            None => {
                                let requests = &mut *requests;
                                Some(Started::InOrder(Box::pin(async move {
                                    requests.handle(Inbound::Binary(&bytes)).await;
                                })))
                            }
                        }
                    }
                    // The codec answers pings itself.
                    Some(Ok(Message::Ping(payload) | Message::Pong(payload))) => {
                        progress.control_done(&clock, payload.len());
                        None
                    }
                    Some(Ok(Message::Frame(_))) => None,
                    Some(Ok(Message::Close(_))) | None => return Stop::ClientClosed,
                    Some(Err(error)) => return violation(&error),
                };
                match started {
                    None => {}
                    Some(Started::Concurrent(request)) => {
                        // At the limit, nothing more is read until one finishes.
                        while running.len() >= limits.max_concurrent_actions() {
                            Box::pin(running.one_finished()).await;
                        }
                        running.push(request);
                    }
                    Some(Started::InOrder(request)) if running.is_empty() => request.await,
                    Some(Started::InOrder(request)) => {
                        Box::pin(running.alongside(request)).await;
                    }
                }
            }
        };
        let writer = async {
            while let Some(first) = outbound.recv().await {
                // Write everything queued now, then flush once: pipelined replies and
                // fan-outs leave in as few socket writes as the codec allows.
                let mut next = Some(first);
                while let Some(frame) = next.take() {
                    if let Outgoing::Close(reason) = frame {
                        return Stop::Close(reason);
                    }
                    if sink.feed(message(frame)).await.is_err() {
                        return Stop::Ended(Ended::WriteFailed);
                    }
                    next = outbound.try_recv();
                }
                if sink.flush().await.is_err() {
                    return Stop::Ended(Ended::WriteFailed);
                }
            }
            Stop::Ended(Ended::ClientClosed)
        };
        let watchdog = watchdog(&progress, &clock, limits, &mailbox);
        // A writer blocked on a socket the client stopped reading would never see the
        // queue overflow; this gives up on the connection instead. A writer that is not
        // blocked is polled first and sends the 1008 close frame itself.
        let overflowed = async {
            mailbox.overflowed().await;
            Stop::Ended(Ended::ServerClosed(CloseReason::SLOW_CONSUMER))
        };
        // A shutdown closes the connection with 1001 once no request is running: at once
        // when the loop is waiting on the socket, else when it comes back to it (the reader
        // checks). Past the shutdown's deadline, whatever is still open is dropped.
        let phases = async {
            node.reached(Phase::Draining).await;
            if progress.reading() && in_flight.load(Ordering::Acquire) == 0 {
                mailbox.finish(CloseReason::GOING_AWAY);
            }
            node.reached(Phase::Aborting).await;
            Stop::Ended(Ended::ShutDown)
        };
        let (reader, writer, watchdog, overflowed, phases) = (
            std::pin::pin!(reader),
            std::pin::pin!(writer),
            std::pin::pin!(watchdog),
            std::pin::pin!(overflowed),
            std::pin::pin!(phases),
        );
        // Each part is polled only when something it waits on woke it: a reply wakes the
        // writer, not the reader (whose codec zeroes its read buffer on every poll) nor the
        // timers.
        let ends = Woken::new(select(select(watchdog, overflowed), phases));
        let (reader, writer) = (Woken::new(reader), Woken::new(writer));
        match select(select(reader, writer), ends).await {
            Either::Left((Either::Left((stop, _)) | Either::Right((stop, _)), _))
            | Either::Right((
                Either::Left((Either::Left((stop, _)) | Either::Right((stop, _)), _))
                | Either::Right((stop, _)),
                _,
            )) => stop,
        }
    };
    let ended = match stop {
        Stop::ClientClosed => {
            // Completes the closing handshake: the codec answers the client's close frame.
            let _ = Box::pin(bounded(limits, sink.close())).await;
            Ended::ClientClosed
        }
        Stop::Close(reason) => {
            let frame = message(Outgoing::Close(reason));
            match Box::pin(bounded(limits, sink.send(frame))).await {
                Some(Ok(())) => Ended::ServerClosed(reason),
                Some(Err(_)) => Ended::WriteFailed,
                None => Ended::WriteStalled,
            }
        }
        Stop::Ended(ended) => ended,
    };
    node.telemetry.closed(ended.label());
    ended
}

impl Ended {
    /// The close code, or how the connection ended without one, as metrics label it.
    fn label(self) -> &'static str {
        match self {
            Ended::ClientClosed => "client",
            Ended::ServerClosed(reason) => match reason.code {
                1001 => "1001",
                1002 => "1002",
                1007 => "1007",
                1008 => "1008",
                1009 => "1009",
                1011 => "1011",
                _ => "other",
            },
            Ended::WriteFailed => "write_failed",
            Ended::WriteStalled => "write_stalled",
            Ended::ShutDown => "shut_down",
        }
    }
}

/// How one of the loop's futures ended it.
enum Stop {
    /// The client closed (or its stream ended): answer its close.
    ClientClosed,
    /// Close with this reason, then end.
    Close(CloseReason),
    /// End now, without a close frame.
    Ended(Ended),
}

/// Sends keepalive pings and enforces the time limits; returns only to end the connection.
async fn watchdog(
    progress: &Progress,
    clock: &Clock,
    limits: &Limits,
    mailbox: &crate::outbound::Mailbox,
) -> Stop {
    let ms =
        |duration: std::time::Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2);
    let (interval, keepalive_timeout) = (
        ms(limits.keepalive_interval()),
        ms(limits.keepalive_timeout()),
    );
    let (message_timeout, write_timeout) =
        (ms(limits.message_timeout()), ms(limits.write_timeout()));
    let mut ping_sent: Option<u64> = None;
    loop {
        let now = clock.now();
        // Never asleep longer than the message timeout: a message that starts arriving
        // later is then due after the next wake-up, so its arrival need not wake this.
        let mut next = now + interval.min(message_timeout);
        let reading = progress.reading();
        let last_inbound = progress.last_inbound();
        match ping_sent {
            Some(sent) if last_inbound >= sent || !reading => ping_sent = None,
            Some(sent) if now >= sent + keepalive_timeout => {
                return Stop::Close(CloseReason::KEEPALIVE_TIMEOUT);
            }
            Some(sent) => next = next.min(sent + keepalive_timeout),
            None => {}
        }
        if ping_sent.is_none() && reading {
            let due = last_inbound + interval;
            if now >= due {
                // A full queue means the writer is busy anyway: the ping waits a turn.
                if mailbox.offer(Queued::Ping) {
                    ping_sent = Some(now);
                    next = next.min(now + keepalive_timeout);
                }
            } else {
                next = next.min(due);
            }
        }
        if reading && let Some(since) = progress.pending_since() {
            if now >= since + message_timeout {
                return Stop::Close(CloseReason::MESSAGE_TIMEOUT);
            }
            next = next.min(since + message_timeout);
        }
        if let Some(since) = progress.blocked_since() {
            if now >= since + write_timeout {
                return Stop::Ended(Ended::WriteStalled);
            }
            next = next.min(since + write_timeout);
        }
        let sleep = tokio::time::sleep_until(clock.instant(next));
        select(std::pin::pin!(sleep), std::pin::pin!(progress.changed())).await;
    }
}

/// The codec's settings, from the limits.
fn config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(limits.read_buffer_size())
        .write_buffer_size(limits.write_buffer_size())
        // A single frame is a whole message at most.
        .max_frame_size(Some(limits.max_frame_size().min(limits.max_message_size())))
        .max_message_size(Some(limits.max_message_size()))
}

/// How a read error ends the connection.
fn violation(error: &Error) -> Stop {
    match error {
        Error::Capacity(_) => Stop::Close(CloseReason::TOO_BIG),
        Error::Utf8(_) => Stop::Close(CloseReason::INVALID_UTF8),
        Error::Protocol(_) => Stop::Close(CloseReason::PROTOCOL_ERROR),
        // The socket failed or closed: nothing can be sent any more.
        _ => Stop::ClientClosed,
    }
}

fn message(frame: Outgoing) -> Message {
    match frame {
        Outgoing::Text(text) => Message::Text(text.into()),
        Outgoing::Binary(bytes) => Message::Binary(bytes.into()),
        Outgoing::Ping => Message::Ping(Default::default()),
        Outgoing::Close(reason) => Message::Close(Some(CloseFrame {
            code: CloseCode::from(reason.code),
            reason: reason.reason.into(),
        })),
    }
}

/// `future`, bounded by the write timeout: `None` when it took longer.
async fn bounded<F: std::future::Future>(limits: &Limits, future: F) -> Option<F::Output> {
    tokio::time::timeout(limits.write_timeout(), future)
        .await
        .ok()
}
