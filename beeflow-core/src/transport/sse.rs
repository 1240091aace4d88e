//! Server-Sent Events (`docs/protocol.md` §7): for clients that cannot open a WebSocket, the
//! same connection, its frames streamed as SSE events (`GET`), its actions `POST`ed.
//!
//! The stream first announces the session (`event: beeflow.session`), then sends every
//! frame a version-2 WebSocket connection would get as an event whose `data` is the JSON
//! frame. Events with a stream position carry an `id` naming the position reached in each
//! stream so far, so a client that reconnects with `Last-Event-ID` (browsers do it by
//! themselves) gets what it missed: the topics in the query string are subscribed again,
//! from there.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::{Either, select};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::accept::UpgradeRequest;
use crate::connection::{Connection, Inbound};
use crate::dispatch::Dispatcher;
use crate::envelope::Position;
use crate::handshake::HandshakePolicy;
use crate::hub::{NotForwarded, SessionKey};
use crate::node::{Node, Phase};
use crate::outbound::Outgoing;
use crate::problem::Problem;

/// The header a `POST` names its session with.
pub const SESSION_HEADER: &str = "beeflow-session";

/// How many POSTed actions may wait for a session's connection before more are refused.
const WAITING_ACTIONS: usize = 64;

/// How many encoded chunks may wait for the HTTP body: beyond, the connection's own queue
/// fills, and its slow-consumer policy applies as on a WebSocket.
const WAITING_CHUNKS: usize = 16;

/// Bytes left as they are in ids: everything else is percent-encoded, so `=`, `:` and `,`
/// separate.
const ID_BYTES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An open SSE stream: the body of the `200` response, `text/event-stream`.
pub struct SseStream {
    chunks: mpsc::Receiver<Bytes>,
}

impl Stream for SseStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

impl std::fmt::Debug for SseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseStream").finish_non_exhaustive()
    }
}

/// The headers of an SSE response besides its status (`200`).
pub const SSE_RESPONSE_HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    // Reverse proxies that buffer responses (nginx) would hold events back.
    ("x-accel-buffering", "no"),
];

/// Opens an SSE stream for `request` (a `GET`): the same checks, policy and limits as a
/// WebSocket upgrade ([`accept`](super::accept)), the token read from
/// `Authorization: Bearer` as well; the connection speaks protocol version 2 in JSON.
///
/// `topic` parameters of the query string are subscribed at once (through the
/// application's subscription hook), and a `Last-Event-ID` header resumes each of them, and
/// the user's own stream, after the position it names.
///
/// # Errors
///
/// The Problem to answer with, as for an upgrade: `shutting_down` (503), `rate_limited`
/// (429), whatever the policy refused with (401/403), `handshake_timed_out` (408),
/// `too_many_connections` (429), `server_full` (503), `headers_too_large` (431).
pub async fn open(
    dispatcher: &Dispatcher,
    policy: &HandshakePolicy,
    request: UpgradeRequest,
) -> Result<SseStream, Problem> {
    let node = dispatcher.node();
    let admission = super::accept::admit(dispatcher, policy, &request, true).await?;
    let connection = dispatcher.open(&request.path, &admission.v2())?;
    let id = connection.id().clone();
    let user = connection.requests.user_id().map(str::to_owned);
    let (key, actions) = node
        .hub
        .sessions
        .open(&id, user.as_deref(), WAITING_ACTIONS);
    let resume = Resume::read(&request, user.as_deref());
    let (sender, chunks) = mpsc::channel(WAITING_CHUNKS);
    let node = node.clone();
    tokio::spawn(async move {
        drive(connection, &node, &key, actions, sender, resume).await;
        node.hub.sessions.close(&key.connection);
    });
    Ok(SseStream { chunks })
}

/// Hands a `POST`ed action to the session its [`SESSION_HEADER`] names, on this node or,
/// through the broker, on the node that holds it. The request must pass `policy` as the
/// stream's did, as the same user. Its replies arrive on the stream.
///
/// # Errors
///
/// `session_not_found` (404) for a missing, malformed or unknown session, or one of
/// another user; `session_busy` (429) when the session has too many actions waiting;
/// `request_too_large` (413) beyond [`Limits::max_message_size`](crate::Limits); the
/// policy's own refusals; `shutting_down` (503).
pub async fn post(
    dispatcher: &Dispatcher,
    policy: &HandshakePolicy,
    request: UpgradeRequest,
    body: &[u8],
) -> Result<(), Problem> {
    let node = dispatcher.node();
    let limit = node.limits.max_message_size();
    if body.len() > limit {
        return Err(Problem::request_too_large(limit));
    }
    let admission = super::accept::admit(dispatcher, policy, &request, false).await?;
    let key = request
        .header(SESSION_HEADER)
        .and_then(SessionKey::parse)
        .ok_or_else(Problem::session_not_found)?;
    // Not valid UTF-8: the envelope parser answers it on the stream, as any broken frame.
    let action = String::from_utf8_lossy(body).into_owned();
    let user = admission.user_id();
    if !node.hub.owns(&key.connection) {
        return node.forward_action(&key, user, action).await;
    }
    match node.hub.sessions.forward(&key, user, action) {
        Ok(()) => Ok(()),
        Err(NotForwarded::Busy) => Err(Problem::session_busy()),
        Err(NotForwarded::Unknown) => Err(Problem::session_not_found()),
    }
}

/// Where a resumed stream starts: the topics to subscribe to, and the positions its
/// `Last-Event-ID` names.
#[derive(Debug, Default)]
struct Resume {
    topics: Vec<String>,
    positions: BTreeMap<String, (String, u64)>,
    user: Option<String>,
}

impl Resume {
    fn read(request: &UpgradeRequest, user: Option<&str>) -> Self {
        let topics = request
            .query
            .as_deref()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .filter(|(name, _)| name == "topic")
                    .map(|(_, value)| value.into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let positions = request
            .header("last-event-id")
            .map(parse_event_id)
            .unwrap_or_default();
        Self {
            topics,
            positions,
            user: user.map(str::to_owned),
        }
    }

    /// The envelopes that put the stream back: each topic subscribed (from its position,
    /// if the id names one), and the user's stream recovered.
    fn envelopes(&self) -> Vec<String> {
        let mut envelopes = Vec::new();
        for topic in &self.topics {
            let mut payload = serde_json::json!({ "topic": topic });
            if let Some((epoch, offset)) = self.positions.get(&format!("group:{topic}")) {
                payload["since"] = serde_json::json!({ "epoch": epoch, "offset": offset });
            }
            envelopes.push(envelope("beeflow.subscribe", &payload));
        }
        if let Some(user) = &self.user
            && let Some((epoch, offset)) = self.positions.get(&format!("user:{user}"))
        {
            let since = serde_json::json!({ "since": { "epoch": epoch, "offset": offset } });
            envelopes.push(envelope("beeflow.recover", &since));
        }
        envelopes
    }
}

fn envelope(action: &str, payload: &serde_json::Value) -> String {
    serde_json::json!({
        "msg_id": Uuid::new_v4().to_string(),
        "req_id": Uuid::new_v4().to_string(),
        "action": action,
        "payload": payload,
    })
    .to_string()
}

/// The `id` of an event: every stream's position so far, `stream=epoch:offset` joined by
/// `,`, each name and epoch percent-encoded.
fn event_id(positions: &BTreeMap<String, (String, u64)>) -> String {
    let mut id = String::new();
    for (stream, (epoch, offset)) in positions {
        if !id.is_empty() {
            id.push(',');
        }
        let _ = write!(
            id,
            "{}={}:{offset}",
            utf8_percent_encode(stream, ID_BYTES),
            utf8_percent_encode(epoch, ID_BYTES)
        );
    }
    id
}

/// The positions an `id` names; what does not parse is left out.
fn parse_event_id(id: &str) -> BTreeMap<String, (String, u64)> {
    id.split(',')
        .filter_map(|entry| {
            let (stream, position) = entry.split_once('=')?;
            let (epoch, offset) = position.rsplit_once(':')?;
            let decode = |text| {
                percent_decode_str(text)
                    .decode_utf8()
                    .ok()
                    .map(|t| t.into_owned())
            };
            Some((decode(stream)?, (decode(epoch)?, offset.parse().ok()?)))
        })
        .collect()
}

/// One SSE event with `data` (split into lines) and, when given, `event` and `id`.
fn sse_event(event: Option<&str>, id: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 64);
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    if let Some(event) = event {
        let _ = writeln!(out, "event: {event}");
    }
    for line in data.split('\n') {
        let _ = writeln!(out, "data: {line}");
    }
    out.push('\n');
    Bytes::from(out)
}

/// Runs a stream's connection: the POSTed actions in, its frames out as SSE events.
async fn drive(
    mut connection: Connection,
    node: &Arc<Node>,
    key: &SessionKey,
    mut actions: mpsc::Receiver<String>,
    body: mpsc::Sender<Bytes>,
    resume: Resume,
) {
    connection.queue.report_positions();
    let announcement = serde_json::json!({
        "session": key.render(),
        "connection_id": key.connection.as_str(),
    });
    // `retry`: how long a browser waits before it reconnects (its default is 3 s or more).
    let mut first = b"retry: 1000\n".to_vec();
    first.extend_from_slice(&sse_event(
        Some("beeflow.session"),
        None,
        &announcement.to_string(),
    ));
    let first = Bytes::from(first);
    if body.send(first).await.is_err() {
        return;
    }
    let mut positions = resume.positions.clone();
    let Connection { requests, queue } = &mut connection;
    let mailbox = requests.mailbox().clone();
    let reader = async {
        for envelope in resume.envelopes() {
            requests.handle(Inbound::Text(&envelope)).await;
        }
        while let Some(action) = actions.recv().await {
            requests.handle(Inbound::Text(&action)).await;
        }
        std::future::pending::<()>().await;
    };
    let (keepalive, write_timeout) = (
        node.limits.keepalive_interval(),
        node.limits.write_timeout(),
    );
    let writer = async {
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        loop {
            // `None` inside: the queue ended; `None` outside: time for a keepalive. Both
            // futures end with this statement (`recv` loses nothing when dropped).
            let next = match select(Box::pin(queue.recv()), Box::pin(ticks.tick())).await {
                Either::Left((frame, _)) => Some(frame),
                Either::Right(_) => None,
            };
            let chunk = match next {
                Some(Some(Outgoing::Text(text))) => {
                    let id = queue.take_position().map(
                        |Position {
                             stream,
                             offset,
                             epoch,
                         }| {
                            positions.insert(stream.to_string(), (epoch.to_string(), offset));
                            event_id(&positions)
                        },
                    );
                    sse_event(None, id.as_deref(), &text)
                }
                Some(Some(Outgoing::Close(reason))) => {
                    let close = serde_json::json!({ "code": reason.code, "reason": reason.reason });
                    let _ = body
                        .send(sse_event(Some("beeflow.close"), None, &close.to_string()))
                        .await;
                    return;
                }
                Some(Some(Outgoing::Ping | Outgoing::Binary(_))) => continue,
                Some(None) => return,
                None => Bytes::from_static(b": keepalive\n\n"),
            };
            // A client that stops reading holds the body back: after the write timeout the
            // stream ends, as a WebSocket whose writes stall is dropped.
            match tokio::time::timeout(write_timeout, body.send(chunk)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
        }
    };
    // A writer held back by such a client never sees the queue overflow: this ends it.
    let overflowed = mailbox.overflowed();
    let shutdown = async {
        node.reached(Phase::Draining).await;
        mailbox.finish(crate::outbound::CloseReason::GOING_AWAY);
        node.reached(Phase::Aborting).await;
    };
    let (reader, writer, shutdown, overflowed) = (
        std::pin::pin!(reader),
        std::pin::pin!(writer),
        std::pin::pin!(shutdown),
        std::pin::pin!(overflowed),
    );
    select(select(writer, overflowed), select(reader, shutdown)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_names_every_stream_s_position_and_reads_back() {
        let mut positions = BTreeMap::new();
        positions.insert(
            "group:room, with=odd:chars".to_owned(),
            ("e:1".to_owned(), 42),
        );
        positions.insert("user:ada".to_owned(), ("b3f1".to_owned(), 7));
        let id = event_id(&positions);
        assert!(!id.contains(' ') && id.is_ascii(), "{id}");
        assert_eq!(parse_event_id(&id), positions);
        assert_eq!(
            parse_event_id("garbage,user:x=e:notanumber"),
            BTreeMap::new()
        );
    }

    #[test]
    fn data_is_split_into_lines() {
        let event = sse_event(Some("x"), Some("1"), "a\nb");
        assert_eq!(&event[..], b"id: 1\nevent: x\ndata: a\ndata: b\n\n");
    }
}
