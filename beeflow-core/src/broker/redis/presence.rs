//! Presence in Redis: every node's members per group, kept consistent by Lua scripts (each
//! runs atomically, so a user's first entry or last exit is seen by exactly one of them,
//! which publishes the notice in the same step).
//!
//! Keys, under the broker's presence prefix (its prefix, or `{<prefix>}` in a cluster, so
//! they share a slot; the scripts name `presence:nodes` as their key, for routing):
//! - `presence:node:<node>`, a hash: what one node counts, field `u<n>:<group><user>` (or
//!   `g<n>:<group>` for guests; `<n>` is the group's length in bytes) → connections;
//! - `presence:group:<group>`, a hash: the sum over nodes, field `u:<user>` (or `g`) →
//!   connections;
//! - `presence:nodes`, a sorted set: each node's last heartbeat, by Redis's clock.
//!
//! Notices are published (`SPUBLISH` in a cluster) on channel `presence:<group>` as `{"user": …, "joined": …}`. A node
//! that stops its heartbeat for [`DEAD_AFTER`] is reaped by whichever node ticks next: its
//! counts are subtracted and its users leave.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::connection::Connection;
use serde::Deserialize;

use crate::broker::MembershipChange;
use crate::presence::{Presence, PresenceCounts};

/// How often a node refreshes its heartbeat and looks for dead nodes.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a node may miss heartbeats before its members are made to leave. With
/// [`HEARTBEAT`], a dead node's members leave within 40 s.
pub(super) const DEAD_AFTER: Duration = Duration::from_secs(30);

/// Shared by the scripts: a node field split into kind, group and user; and a count change
/// applied to a group's sum, publishing the notice when a user's sum crosses zero.
const COMMON: &str = r"
local function split(field)
  local colon = string.find(field, ':', 2, true)
  local n = tonumber(string.sub(field, 2, colon - 1))
  return string.sub(field, 1, 1), string.sub(field, colon + 1, colon + n), string.sub(field, colon + n + 1)
end
local function apply(prefix, field, delta)
  local kind, group, user = split(field)
  local key = prefix .. ':presence:group:' .. group
  local sum_field = 'g'
  if kind == 'u' then sum_field = 'u:' .. user end
  local sum = redis.call('HINCRBY', key, sum_field, delta)
  if sum <= 0 then redis.call('HDEL', key, sum_field) end
  if kind == 'u' then
    local before = sum - delta
    if (before <= 0) ~= (sum <= 0) then
      redis.call(PUBLISH, prefix .. ':presence:' .. group, cjson.encode({user = user, joined = sum > 0}))
    end
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

/// The presence scripts, for one way of publishing.
struct Scripts {
    /// ARGV: prefix, node, field, delta. A node whose counts were reaped meanwhile changes
    /// its own count only (the sum no longer holds its share).
    change: redis::Script,
    /// ARGV: prefix, node, counts (a JSON object of fields), alive ('1': also heartbeat,
    /// '0': the node says goodbye). Replaces the node's counts, applying the difference.
    sync: redis::Script,
    /// ARGV: prefix, node, dead after (ms). Refreshes the node's heartbeat and reaps the
    /// nodes whose heartbeat is older. Returns 1 when this node itself had been reaped (its
    /// counts must be put back).
    tick: redis::Script,
}

impl Scripts {
    fn new(publish: &str) -> Self {
        let common = format!("local PUBLISH = '{publish}'\n{COMMON}");
        Self {
            change: redis::Script::new(&format!(
                "{common}
local key = ARGV[1] .. ':presence:node:' .. ARGV[2]
local delta = tonumber(ARGV[4])
local count = redis.call('HINCRBY', key, ARGV[3], delta)
if count <= 0 then redis.call('HDEL', key, ARGV[3]) end
if count >= 0 then apply(ARGV[1], ARGV[3], delta) end
return count"
            )),
            sync: redis::Script::new(&format!(
                "{common}
local key = ARGV[1] .. ':presence:node:' .. ARGV[2]
local old = redis.call('HGETALL', key)
local new = cjson.decode(ARGV[3])
local deltas = {{}}
for i = 1, #old, 2 do deltas[old[i]] = -tonumber(old[i + 1]) end
for field, count in pairs(new) do deltas[field] = (deltas[field] or 0) + count end
redis.call('DEL', key)
for field, count in pairs(new) do redis.call('HSET', key, field, count) end
for field, delta in pairs(deltas) do
  if delta ~= 0 then apply(ARGV[1], field, delta) end
end
local nodes = ARGV[1] .. ':presence:nodes'
if ARGV[4] == '1' then redis.call('ZADD', nodes, now_ms(), ARGV[2]) else redis.call('ZREM', nodes, ARGV[2]) end
return 1"
            )),
            tick: redis::Script::new(&format!(
                "{common}
local nodes = ARGV[1] .. ':presence:nodes'
local now = now_ms()
local reaped = 0
if redis.call('ZADD', nodes, now, ARGV[2]) == 1 then reaped = 1 end
local dead = redis.call('ZRANGEBYSCORE', nodes, '-inf', now - tonumber(ARGV[3]))
for _, node in ipairs(dead) do
  redis.call('ZREM', nodes, node)
  local key = ARGV[1] .. ':presence:node:' .. node
  local old = redis.call('HGETALL', key)
  for i = 1, #old, 2 do apply(ARGV[1], old[i], -tonumber(old[i + 1])) end
  redis.call('DEL', key)
end
return reaped"
            )),
        }
    }
}

static CLASSIC: LazyLock<Scripts> = LazyLock::new(|| Scripts::new("PUBLISH"));
static SHARDED: LazyLock<Scripts> = LazyLock::new(|| Scripts::new("SPUBLISH"));

/// Presence in Redis for one broker: its keys' prefix and how it publishes notices.
#[derive(Clone, Copy)]
pub(super) struct Presences<'a> {
    prefix: &'a str,
    scripts: &'static Scripts,
}

impl<'a> Presences<'a> {
    /// Presence under `prefix` (the broker's presence prefix), notices by `SPUBLISH` when
    /// `sharded`.
    pub(super) fn new(prefix: &'a str, sharded: bool) -> Self {
        let scripts = if sharded { &*SHARDED } else { &*CLASSIC };
        Self { prefix, scripts }
    }

    /// The key the scripts are routed by: every presence key shares its slot.
    fn route(&self) -> String {
        format!("{}:presence:nodes", self.prefix)
    }
}

/// A node field: the group (length-prefixed, so any text works) and the user.
fn node_field(group: &str, user: Option<&str>) -> String {
    match user {
        Some(user) => format!("u{}:{group}{user}", group.len()),
        None => format!("g{}:{group}", group.len()),
    }
}

impl Presences<'_> {
    /// Loads the script [`Presences::changes`] calls by its hash; done on every
    /// (re)connection.
    pub(super) async fn load(&self, connection: &mut Connection) -> redis::RedisResult<()> {
        self.scripts.change.load_async(connection).await.map(drop)
    }

    /// Applies membership changes of `node`, in order.
    pub(super) async fn changes(
        &self,
        connection: &mut Connection,
        node: &str,
        changes: &[MembershipChange],
    ) -> redis::RedisResult<()> {
        // One round trip for them all, applied in order.
        let route = self.route();
        let mut pipeline = redis::pipe();
        for change in changes {
            let field = node_field(&change.group, change.user.as_deref());
            let delta: i64 = if change.entered { 1 } else { -1 };
            pipeline
                .cmd("EVALSHA")
                .arg(self.scripts.change.get_hash())
                .arg(1)
                .arg(&route)
                .arg(self.prefix)
                .arg(node)
                .arg(field)
                .arg(delta)
                .ignore();
        }
        pipeline.query_async::<()>(connection).await
    }

    /// Replaces what Redis counts for `node` with `counts` (`alive: false`: with nothing,
    /// and the node leaves the heartbeat set).
    pub(super) async fn sync(
        &self,
        connection: &mut Connection,
        node: &str,
        counts: &[(Arc<str>, PresenceCounts)],
        alive: bool,
    ) -> redis::RedisResult<()> {
        let fields: HashMap<String, usize> = counts
            .iter()
            .flat_map(|(group, counts)| {
                counts
                    .entries()
                    .map(|(user, n)| (node_field(group, user), n))
            })
            .collect();
        let fields = serde_json::to_string(&fields).expect("a map of counts serializes");
        self.scripts
            .sync
            .key(self.route())
            .arg(self.prefix)
            .arg(node)
            .arg(fields)
            .arg(if alive { "1" } else { "0" })
            .invoke_async::<i64>(connection)
            .await
            .map(drop)
    }

    /// Heartbeats and reaps dead nodes; true when this node had been reaped itself.
    pub(super) async fn tick(
        &self,
        connection: &mut Connection,
        node: &str,
    ) -> redis::RedisResult<bool> {
        let dead_after = u64::try_from(DEAD_AFTER.as_millis()).unwrap_or(u64::MAX);
        self.scripts
            .tick
            .key(self.route())
            .arg(self.prefix)
            .arg(node)
            .arg(dead_after)
            .invoke_async::<i64>(connection)
            .await
            .map(|reaped| reaped == 1)
    }

    /// Who is in `group`, summed over nodes.
    pub(super) async fn snapshot(
        &self,
        connection: &mut Connection,
        group: &str,
    ) -> redis::RedisResult<Presence> {
        let sums: HashMap<String, usize> = redis::cmd("HGETALL")
            .arg(format!("{}:presence:group:{group}", self.prefix))
            .query_async(connection)
            .await?;
        let mut counts = PresenceCounts::default();
        for (field, n) in sums {
            match field.strip_prefix("u:") {
                Some(user) => counts.set(Some(user), n),
                None => counts.set(None, n),
            }
        }
        Ok(counts.to_presence(group))
    }
}

/// A notice as published by the scripts.
#[derive(Debug, Deserialize)]
pub(super) struct Notice {
    pub(super) user: String,
    pub(super) joined: bool,
}

#[cfg(test)]
mod tests {
    use super::node_field;

    #[test]
    fn node_fields_keep_group_and_user_apart() {
        assert_eq!(node_field("a:b", Some("c")), "u3:a:bc");
        assert_eq!(node_field("lobby", None), "g5:lobby");
        assert_eq!(node_field("é", Some("")), "u2:é");
    }
}
