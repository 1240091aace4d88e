//! Stream history in Redis (`docs/protocol.md` §6.4), shared by every node.
//!
//! One Lua script gives each user or group part of a delivery the next offset of its stream,
//! appends the event to the stream's history and publishes the delivery, all in one atomic
//! step: offsets are assigned in the order Redis publishes, so every node (the publisher
//! included, which hears its own publish on its node channel) delivers a stream's events in
//! offset order.
//!
//! Keys, per stream (`user:<id>`, `group:<name>`), under `{<prefix>:<stream>}` (a hash
//! tag, so in a cluster both live in the slot of the stream's channel):
//! - `…:meta`, a hash: `e` the epoch, `s` the last offset;
//! - `…:history`, a Redis stream: entry `<offset>-1` with the event (`d`) and when it was
//!   appended (`t`, ms by Redis's clock).
//!
//! Both expire when the stream has had no event for the history's age; the next event then
//! starts a new epoch, as it does after Redis lost them (a restart, a flush).
//!
//! A published stream message is `S<offset>:<epoch>,…\n<delivery>`: the positions of the
//! delivery's stream parts, in order, then the delivery as on any other channel.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::connection::Connection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Inner;
use super::wire::Names;
use crate::broker::{BrokerError, HistoryRead, RemoteDelivery};
use crate::envelope::{EventFrame, FrameParts, Position};
use crate::limits::HistoryLimits;

/// Appends and publishes a batch of deliveries. ARGV: size, age (ms), the number of runs,
/// then per run (consecutive deliveries published on the same channels): c, c channels
/// (each after a letter: `s` for `SPUBLISH`, `p` for `PUBLISH`), k, then per delivery: n,
/// n pairs (stream key base, stored event), the delivery's message. Returns per run how
/// many subscribers its publishes reached and each delivery's positions (as published).
/// KEYS: none on one server; in a cluster, a key of the one stream the batch touches (the
/// call is routed by it).
///
/// Each stream's meta is read once per batch and written back once, with the expiries and
/// the trimming, and each run is published as one message per channel: a batch of events to
/// one group costs Redis an `XADD` each and one `PUBLISH`.
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
  local k = tonumber(ARGV[i])
  i = i + 1
  local messages = {}
  local headers = {}
  for d = 1, k do
    local n = tonumber(ARGV[i])
    i = i + 1
    local header = {}
    for s = 1, n do
      local base, data = ARGV[i], ARGV[i + 1]
      i = i + 2
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
      state.top = state.top + 1
      -- %d: integer formatting, much cheaper than Lua's default for numbers.
      local offset = string.format('%d', state.top)
      if size > 0 then
        redis.call('XADD', state.key, offset .. '-1', 'd', data, 't', now)
      end
      header[s] = offset .. ':' .. state.epoch
    end
    headers[d] = table.concat(header, ',')
    messages[d] = 'S' .. headers[d] .. '\n' .. ARGV[i]
    i = i + 1
  end
  local message = table.concat(messages, '\n')
  local reached = 0
  for ch = channels, channels + c - 1 do
    local channel = ARGV[ch]
    local command = 'PUBLISH'
    if string.byte(channel, 1) == 115 then command = 'SPUBLISH' end
    reached = reached + redis.call(command, string.sub(channel, 2), message)
  end
  replies[r] = {reached, headers}
end
for _, state in pairs(streams) do
  redis.call('HSET', state.meta, 'e', state.epoch, 's', state.top)
  redis.call('PEXPIRE', state.meta, age)
  if size > 0 then
    -- Whole nodes of the stream at a time: the reads count the size exactly.
    redis.call('XTRIM', state.key, 'MAXLEN', '~', size)
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
/// the event stored without its position), then `message` (the delivery's wire form).
pub(super) fn delivery_args(
    names: &Names,
    delivery: &RemoteDelivery,
    message: Vec<u8>,
) -> Vec<Vec<u8>> {
    let streams: Vec<(String, String)> = delivery
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
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(2 + 2 * streams.len());
    args.push(streams.len().to_string().into_bytes());
    for (stream, stored) in streams {
        args.push(stream.as_bytes().to_vec());
        args.push(stored.into_bytes());
    }
    args.push(message);
    args
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

/// The positions (offset, epoch) of a delivery's stream parts, in order.
pub(super) type Positions = Vec<(u64, Arc<str>)>;

/// `<offset>:<epoch>,…`, as the script writes it.
pub(super) fn parse_positions(header: &str) -> Option<Positions> {
    if header.is_empty() {
        return Some(Vec::new());
    }
    header
        .split(',')
        .map(|position| {
            let (offset, epoch) = position.split_once(':')?;
            Some((offset.parse().ok()?, epoch.into()))
        })
        .collect()
}

/// Splits a published message into its deliveries, each with the positions of its stream
/// parts (`None` for a message without streams, which is one delivery); `None` when
/// malformed.
///
/// A stream message is one or more `S<positions>\n<delivery>` joined by newlines: a
/// delivery is compact JSON, which has none of its own.
pub(super) fn split_message(payload: &[u8]) -> Option<Vec<(Option<Positions>, &[u8])>> {
    let Some(mut rest) = payload.strip_prefix(b"S") else {
        return Some(vec![(None, payload)]);
    };
    let mut deliveries = Vec::new();
    loop {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let header = std::str::from_utf8(&rest[..end]).ok()?;
        let positions = parse_positions(header)?;
        rest = &rest[end + 1..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                deliveries.push((Some(positions), &rest[..end]));
                rest = rest[end + 1..].strip_prefix(b"S")?;
            }
            None => {
                deliveries.push((Some(positions), rest));
                return Some(deliveries);
            }
        }
    }
}

/// Gives the stream parts of `delivery` their `positions`, in order; false when they do not
/// match.
pub(super) fn apply_positions(delivery: &mut RemoteDelivery, positions: Positions) -> bool {
    let mut positions = positions.into_iter();
    for part in &mut delivery.parts {
        let Some(stream) = part.topic.stream() else {
            continue;
        };
        let Some((offset, epoch)) = positions.next() else {
            return false;
        };
        let position = Position {
            stream,
            offset,
            epoch,
        };
        // Fresh from the wire, the frame is not shared: positioned in place.
        Arc::make_mut(&mut part.frame).set_position(position);
    }
    positions.next().is_none()
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
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("{base}:history"))
        .arg(format!("{}-0", after + 1))
        .arg(format!("{top}-1"))
        .query_async(connection)
        .await?;
    let max_age = u64::try_from(limits.age.as_millis()).unwrap_or(u64::MAX);
    let mut events = Vec::with_capacity(entries.len());
    for (expected, (id, fields)) in (after + 1..).zip(entries) {
        let fields: HashMap<&str, &str> = fields
            .chunks_exact(2)
            .map(|pair| (pair[0].as_str(), pair[1].as_str()))
            .collect();
        let offset: Option<u64> = id.split_once('-').and_then(|(o, _)| o.parse().ok());
        let fresh = fields
            .get("t")
            .and_then(|t| t.parse::<u64>().ok())
            .is_some_and(|t| now_ms.saturating_sub(t) <= max_age);
        let (Some(offset), true, Some(delivery)) = (offset, fresh, fields.get("d")) else {
            return Ok(Some(incomplete()));
        };
        if offset != expected {
            return Ok(Some(incomplete()));
        }
        let position = Position {
            stream: stream.clone(),
            offset,
            epoch: epoch.clone(),
        };
        let frame = serde_json::from_str::<Stored<'_>>(delivery)
            .ok()
            .and_then(|stored| {
                EventFrame::from_parts(FrameParts {
                    text: &stored.text,
                    seq_at: stored.seq_at,
                    payload_at: stored.payload_at,
                    id: stored.id,
                    position: Some(position),
                    droppable: stored.droppable,
                })
            });
        let Some(frame) = frame else {
            return Ok(Some(incomplete()));
        };
        events.push(Arc::new(frame));
    }
    let complete = events.len() as u64 == missed;
    Ok(Some(HistoryRead {
        epoch,
        top,
        events: complete.then_some(events),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_into_positions_and_the_delivery() {
        assert_eq!(
            split_message(b"S4:ab,7:cd\n{}"),
            Some(vec![(
                Some(vec![(4, "ab".into()), (7, "cd".into())]),
                &b"{}"[..]
            )])
        );
        assert_eq!(
            split_message(b"S4:ab\n{\"a\":1}\nS5:ab\n{}\nS\n[]"),
            Some(vec![
                (Some(vec![(4, "ab".into())]), &b"{\"a\":1}"[..]),
                (Some(vec![(5, "ab".into())]), &b"{}"[..]),
                (Some(vec![]), &b"[]"[..]),
            ]),
            "a run of deliveries"
        );
        assert_eq!(split_message(b"{}"), Some(vec![(None, &b"{}"[..])]));
        assert_eq!(split_message(b"S4:ab"), None, "no delivery");
        assert_eq!(split_message(b"Sx:ab\n{}"), None, "not an offset");
        assert_eq!(
            split_message(b"S4:ab\n{}\n{}"),
            None,
            "a delivery without positions"
        );
    }
}
