//! What both hand-written servers do with a frame: the least a server written by hand for
//! this one action must do. Borrow the two members it needs from the frame (typed, with
//! `serde` derive, no `serde_json::Value`), check the action, serialize a typed reply with a
//! fresh UUID v4 `msg_id` straight into one `String`.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow, default)]
    req_id: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct Reply<'a> {
    msg_id: uuid::Uuid,
    req_id: Option<&'a str>,
    seq: u64,
    event: &'static str,
    recipient: &'static str,
    recipient_id: &'a str,
    payload: Status,
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

/// One connection's state: its id and the `seq` of its last event.
pub(crate) struct Connection {
    id: String,
    seq: u64,
}

impl Connection {
    pub(crate) fn new() -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            seq: 0,
        }
    }

    /// The `health` event answering `text`, or `None` for anything else.
    pub(crate) fn answer(&mut self, text: &str) -> Option<String> {
        let request: Request<'_> = serde_json::from_str(text).ok()?;
        if request.action != "health" {
            return None;
        }
        self.seq += 1;
        let reply = Reply {
            msg_id: uuid::Uuid::new_v4(),
            req_id: request.req_id.as_deref(),
            seq: self.seq,
            event: "health",
            recipient: "websocket",
            recipient_id: &self.id,
            payload: Status { status: "ok" },
        };
        serde_json::to_string(&reply).ok()
    }
}
