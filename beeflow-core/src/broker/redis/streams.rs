//! Stream history in Redis (`docs/protocol.md` §6.4), shared by every node.
//!
//! One Lua script gives each user or group part of a delivery the next offset of its stream,
//! appends the event to the stream's history and publishes the delivery, all in one atomic
//! step: offsets are assigned in the order Redis publishes, so every node (the publisher
//! included, which hears its own publish on its node channel) delivers a stream's events in
//! offset order. The script works per run of deliveries (`runs.rs`), not per delivery.
//!
//! Keys, per stream (`user:<id>`, `group:<name>`), under `{<prefix>:<stream>}` (a hash
//! tag, so in a cluster both live in the slot of the stream's channel):
//! - `…:meta`, a hash: `e` the epoch, `s` the last offset;
//! - `…:history`, a Redis stream: one entry per run, id `<its last offset>-1`, with the
//!   run's events of the stream, newline-separated (`d`), and when they were appended (`t`,
//!   ms by Redis's clock).
//!
//! Both expire when the stream has had no event for the history's age; the next event then
//! starts a new epoch, as it does after Redis lost them (a restart, a flush).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::connection::Connection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Inner;
use super::runs::DeliveryArgs;
use super::wire::Names;
use crate::broker::{BrokerError, HistoryRead, RemoteDelivery};
use crate::envelope::{EventFrame, FrameParts, Position};
use crate::limits::HistoryLimits;

/// Appends and publishes a batch of runs. ARGV: size, age (ms), the number of runs, then
/// per run: c, c channels (each after a letter: `s` for `SPUBLISH`, `p` for `PUBLISH`), m,
/// m triples (stream key base, how many events, the events newline-separated), the run's
/// deliveries (`runs::run_args`). Returns per run how many subscribers its publishes
/// reached and its header (the streams' offsets before it and epochs, as published).
/// KEYS: none on one server; in a cluster, a key of the one stream the batch touches (the
/// call is routed by it).
///
/// Each stream's meta is read once per batch and written back once, with the expiries and
/// the trimming, and each run is one `XADD` per stream and one `PUBLISH` per channel: the
/// script's work does not grow with the deliveries in a run, only their bytes do.
pub(super) static APPEND_AND_PUBLISH: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(APPEND_AND_PUBLISH_LUA));

/// The script's source, loaded on every (re)connection so the batcher can `EVALSHA` it.
const APPEND_AND_PUBLISH_LUA: &str = r"
local size, age = tonumber(ARGV[1]), tonumber(ARGV[2])
local runs = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local streams = {}
local replies = {}
local i = 4
for r = 1, runs do
  local c = tonumber(ARGV[i])
  local channels = i + 1
  i = i + 1 + c
  local m = tonumber(ARGV[i])
  i = i + 1
  local header = {}
  for s = 1, m do
    local base, n, events = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
    i = i + 3
    local state = streams[base]
    if not state then
      local meta = base .. ':meta'
      local key = base .. ':history'
      local fields = redis.call('HMGET', meta, 'e', 's')
      local epoch, top = fields[1], tonumber(fields[2]) or 0
      if not epoch then
        epoch = string.format('%08x%05x', tonumber(t[1]), tonumber(t[2]))
        top = 0
        redis.call('DEL', key)
      end
      state = {meta = meta, key = key, epoch = epoch, top = top}
      streams[base] = state
    end
    -- %d: integer formatting, much cheaper than Lua's default for numbers.
    header[s] = string.format('%d', state.top) .. ':' .. state.epoch
    state.top = state.top + n
    if size > 0 then
      redis.call('XADD', state.key, string.format('%d', state.top) .. '-1', 'd', events, 't', now)
    end
  end
  header = table.concat(header, ',')
  local message = 'S' .. header .. '\n' .. ARGV[i]
  i = i + 1
  local reached = 0
  for ch = channels, channels + c - 1 do
    local channel = ARGV[ch]
    local command = 'PUBLISH'
    if string.byte(channel, 1) == 115 then command = 'SPUBLISH' end
    reached = reached + redis.call(command, string.sub(channel, 2), message)
  end
  replies[r] = {reached, header}
end
for _, state in pairs(streams) do
  redis.call('HSET', state.meta, 'e', state.epoch, 's', state.top)
  redis.call('PEXPIRE', state.meta, age)
  if size > 0 then
    -- Entries whose events are all older than the last `size`, whole nodes at a time:
    -- the reads count the size exactly.
    if state.top > size then
      redis.call('XTRIM', state.key, 'MINID', '~', string.format('%d', state.top - size + 1))
    end
    redis.call('PEXPIRE', state.key, age)
  end
end
return replies
";

/// Loads the append script (on every shard of a cluster), so the batcher can call it by
/// its hash.
pub(super) async fn load(connection: &mut Connection) -> redis::RedisResult<()> {
    redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(APPEND_AND_PUBLISH_LUA)
        .query_async::<redis::Value>(connection)
        .await
        .map(drop)
}

/// An event as the history keeps it: the frame's parts less its position.
#[derive(Debug, Serialize, Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
    seq_at: usize,
    payload_at: usize,
    id: Uuid,
    droppable: bool,
}

/// The script's arguments for one delivery: its stream parts (each as its key base and
/// the event stored without its position), and `message` (the delivery's wire form).
pub(super) fn delivery_args(
    names: &Names,
    delivery: &RemoteDelivery,
    message: Vec<u8>,
) -> DeliveryArgs {
    let stored = delivery
        .parts
        .iter()
        .filter_map(|part| {
            let stream = part.topic.stream()?;
            let parts = part.frame.to_parts();
            let stored = Stored {
                text: parts.text.into(),
                seq_at: parts.seq_at,
                payload_at: parts.payload_at,
                id: parts.id,
                droppable: parts.droppable,
            };
            let stored = serde_json::to_string(&stored).expect("a stored event serializes");
            Some((names.stream_base(&stream), stored))
        })
        .collect();
    DeliveryArgs { stored, message }
}

/// The arguments that come before a batch's runs.
pub(super) fn batch_args(limits: HistoryLimits, runs: usize) -> [Vec<u8>; 3] {
    let age = u64::try_from(limits.age.as_millis()).unwrap_or(u64::MAX);
    [
        limits.size.to_string().into_bytes(),
        age.to_string().into_bytes(),
        runs.to_string().into_bytes(),
    ]
}

/// A stream's epoch and last offset, and the time in ms by Redis's clock.
static META_AND_TIME: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local meta = redis.call('HMGET', KEYS[1], 'e', 's')
local t = redis.call('TIME')
return {meta[1], meta[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
",
    )
});

/// How long a history read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// [`Broker::history`](crate::broker::Broker::history) for a user or group `stream`.
pub(super) async fn history(
    inner: Arc<Inner>,
    stream: Option<Arc<str>>,
    after: u64,
    limit: usize,
    limits: HistoryLimits,
) -> Result<Option<HistoryRead>, BrokerError> {
    let Some(stream) = stream else {
        return Ok(None);
    };
    let Some(mut connection) = super::read(&inner.publisher) else {
        return Err(BrokerError::Unavailable("not connected to Redis".into()));
    };
    let base = inner.names.stream_base(&stream);
    let reading = read(&mut connection, &base, stream, after, limit, limits);
    match tokio::time::timeout(READ_TIMEOUT, reading).await {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(error)) => Err(BrokerError::Unavailable(error.to_string())),
        Err(_) => Err(BrokerError::Unavailable("history read timed out".into())),
    }
}

/// The events of `stream` after `after`, if all are kept (and younger than the age limit)
/// and at most `limit`.
async fn read(
    connection: &mut Connection,
    base: &str,
    stream: Arc<str>,
    after: u64,
    limit: usize,
    limits: HistoryLimits,
) -> redis::RedisResult<Option<HistoryRead>> {
    // The meta and the clock of the shard that wrote the entries' times.
    let (epoch, top, now_ms): (Option<String>, Option<u64>, u64) = META_AND_TIME
        .key(format!("{base}:meta"))
        .invoke_async(connection)
        .await?;
    let (Some(epoch), Some(top)) = (epoch, top) else {
        return Ok(None);
    };
    let epoch: Arc<str> = epoch.into();
    let missed = top.saturating_sub(after);
    let incomplete = || HistoryRead {
        epoch: epoch.clone(),
        top,
        events: None,
    };
    // The stream may keep a few more than `size` (it is trimmed a node at a time): those
    // are not recovered, as from memory.
    if after > top || missed > limit as u64 || missed > limits.size as u64 {
        return Ok(Some(incomplete()));
    }
    if missed == 0 {
        return Ok(Some(HistoryRead {
            epoch,
            top,
            events: Some(Vec::new()),
        }));
    }
    // An entry holds a run's events and is named by the last: the first entry from
    // `after + 1` on may begin at or before `after`.
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("{base}:history"))
        .arg(format!("{}-0", after + 1))
        .arg(format!("{top}-1"))
        .query_async(connection)
        .await?;
    let max_age = u64::try_from(limits.age.as_millis()).unwrap_or(u64::MAX);
    let mut events = Vec::with_capacity(usize::try_from(missed).unwrap_or(0));
    let mut next = after + 1;
    for (id, fields) in entries {
        let fields: HashMap<&str, &str> = fields
            .chunks_exact(2)
            .map(|pair| (pair[0].as_str(), pair[1].as_str()))
            .collect();
        let last: Option<u64> = id.split_once('-').and_then(|(o, _)| o.parse().ok());
        let fresh = fields
            .get("t")
            .and_then(|t| t.parse::<u64>().ok())
            .is_some_and(|t| now_ms.saturating_sub(t) <= max_age);
        let (Some(last), true, Some(stored)) = (last, fresh, fields.get("d")) else {
            return Ok(Some(incomplete()));
        };
        let stored: Vec<&str> = stored.split('\n').collect();
        let first = (last + 1).checked_sub(stored.len() as u64);
        // An entry that begins after the next offset: the ones between were trimmed.
        let Some(first) = first.filter(|&first| first <= next && last >= next) else {
            return Ok(Some(incomplete()));
        };
        for (offset, stored) in (first..).zip(stored).skip((next - first) as usize) {
            let position = Position {
                stream: stream.clone(),
                offset,
                epoch: epoch.clone(),
            };
            let Some(frame) = stored_frame(stored, position) else {
                return Ok(Some(incomplete()));
            };
            events.push(Arc::new(frame));
        }
        next = last + 1;
    }
    let complete = next == top + 1;
    Ok(Some(HistoryRead {
        epoch,
        top,
        events: complete.then_some(events),
    }))
}

/// An event as its history kept it, at `position`; `None` when malformed.
fn stored_frame(stored: &str, position: Position) -> Option<EventFrame> {
    let stored = serde_json::from_str::<Stored<'_>>(stored).ok()?;
    EventFrame::from_parts(FrameParts {
        text: &stored.text,
        seq_at: stored.seq_at,
        payload_at: stored.payload_at,
        id: stored.id,
        position: Some(position),
        droppable: stored.droppable,
    })
}
