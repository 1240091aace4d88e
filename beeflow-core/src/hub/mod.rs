//! The hub: this node's live connections, who they belong to, which groups they are in,
//! and the one outbound path into each of them.
//!
//! Every frame a connection receives (replies, emits from outside a request, events from other nodes, problems)
//! enters its bounded queue here. The per-connection `seq` is assigned when a frame leaves
//! the queue (`OutboundQueue::recv`), the single point all events pass, so it is gap-free by
//! construction.
//!
//! The hub also knows which [`Topic`]s this node needs deliveries for, and which groups its
//! connections enter and leave, and says so through a [`Change`] callback whenever that
//! changes; the broker layer above it listens.
//!
//! A connection is a member of a group when an action joined it there or it subscribed to the
//! group's exact topic; pattern subscriptions live in a token trie beside the groups. Either
//! way an event to the group reaches each connection once (`membership.rs`).

mod membership;

pub(crate) use membership::Refused;
mod delivery;
mod patterns;
mod sessions;

pub(crate) use sessions::{NotForwarded, SessionKey, Sessions};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use crate::outbound::{Bounds, Mailbox, OutboundQueue};
use crate::presence::PresenceCounts;
use crate::recipient::ConnectionId;

/// What a node needs deliveries for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Topic {
    /// Deliveries to named connections of this node.
    Node(Arc<str>),
    /// Deliveries to every connection of a user.
    User(Arc<str>),
    /// Deliveries to every member of a group.
    Group(Arc<str>),
    /// Deliveries to every group a pattern topic (`docs/protocol.md` §6.3) matches.
    Pattern(Arc<str>),
    /// The presence notices (`beeflow.join`, `beeflow.leave`) of a group.
    Presence(Arc<str>),
}

impl Topic {
    /// The stream a user or group topic is (`user:<id>`, `group:<name>`), whose events
    /// carry positions (`docs/protocol.md` §6.4); `None` for the other topics.
    pub fn stream(&self) -> Option<Arc<str>> {
        match self {
            Topic::User(user) => Some(format!("user:{user}").into()),
            Topic::Group(group) => Some(format!("group:{group}").into()),
            _ => None,
        }
    }
}

/// What one delivery reached.
///
/// Counts are exact for this node's connections. Deliveries handed to the broker for other
/// nodes are counted as `published` (or `lost` when the broker could not take them); what
/// they reach there is counted by those nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Local connections the event was queued for.
    pub delivered: usize,
    /// Resolved local connections that are not connected (any more).
    pub not_connected: usize,
    /// Local connections whose queue was full; the event did not reach them.
    pub dropped: usize,
    /// Deliveries handed to the broker for other nodes.
    pub published: usize,
    /// Deliveries for other nodes the broker could not take (e.g. while it is down).
    pub lost: usize,
}

impl DeliveryReport {
    pub(crate) fn add(&mut self, other: Self) {
        self.delivered += other.delivered;
        self.not_connected += other.not_connected;
        self.dropped += other.dropped;
        self.published += other.published;
        self.lost += other.lost;
    }
}

/// How many connections, users and groups this node tracks
/// ([`Dispatcher::stats`](crate::Dispatcher::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// Live connections.
    pub connections: usize,
    /// Users with at least one live connection here.
    pub users: usize,
    /// Groups with at least one member here.
    pub groups: usize,
}

/// Whom a local delivery is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Connections(&'a [ConnectionId]),
    User(&'a str),
    Group(&'a str),
    /// The connections watching a group's presence.
    Presence(&'a str),
}

type Members = HashMap<ConnectionId, Arc<Mailbox>>;

/// What changed on this node, told to the layer above in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// This node starts (`true`) or stops (`false`) needing deliveries for a topic.
    Interest(Topic, bool),
    /// A connection (of `user`; `None`: a guest) became a member of `group` (`entered`), or
    /// stopped being one.
    Membership {
        group: Arc<str>,
        user: Option<Arc<str>>,
        entered: bool,
    },
}

/// Told of every [`Change`], under the hub's lock.
pub(crate) type Changes<'a> = &'a dyn Fn(Change);

struct Member {
    mailbox: Arc<Mailbox>,
    user: Option<Arc<str>>,
    /// Groups actions joined it to, in order.
    groups: Vec<Arc<str>>,
    /// Topics it subscribed to, in order.
    subscriptions: Vec<membership::Subscription>,
}

#[derive(Default)]
struct Index {
    connections: HashMap<ConnectionId, Member>,
    users: HashMap<Arc<str>, Members>,
    /// Members by group: joined there, or subscribed to its exact topic.
    groups: HashMap<Arc<str>, Members>,
    /// Pattern subscriptions.
    patterns: patterns::PatternTrie,
    /// The pattern topics with a subscriber here.
    pattern_topics: HashSet<Arc<str>>,
}

/// Connections watching a group's presence, by group.
type Watchers = HashMap<Arc<str>, Members>;

/// A connection id that is not held by this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotLocal;

/// How many connections a node takes (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Capacity {
    pub(crate) per_node: Option<usize>,
    pub(crate) per_user: Option<usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The node holds as many connections as it takes.
    Node,
    /// The user has as many connections here as one user may.
    User,
}

/// This node's live connections and their indexes.
pub(crate) struct Hub {
    node_id: Arc<str>,
    next_connection: AtomicU64,
    index: RwLock<Index>,
    /// Behind a lock of its own: presence notices are delivered while the broker hears of a
    /// membership change, under the index lock. Taken after the index lock, never before.
    watchers: RwLock<Watchers>,
    /// Multi-topic deliveries received lately, so each is delivered once.
    recent: delivery::Recent,
    /// The SSE sessions, for actions POSTed to any node.
    pub(crate) sessions: Sessions,
}

impl Hub {
    pub(crate) fn new() -> Self {
        let node = Uuid::new_v4().simple().to_string();
        Self {
            node_id: node[..12].into(),
            next_connection: AtomicU64::new(1),
            index: RwLock::default(),
            watchers: RwLock::default(),
            recent: delivery::Recent::default(),
            sessions: Sessions::default(),
        }
    }

    /// This node's id; every connection id starts with it.
    pub(crate) fn node_id(&self) -> &Arc<str> {
        &self.node_id
    }

    /// Whether connection id `id` was issued by this node.
    pub(crate) fn owns(&self, id: &ConnectionId) -> bool {
        Self::node_of(id) == Some(&*self.node_id)
    }

    /// The node a connection id belongs to.
    pub(crate) fn node_of(id: &ConnectionId) -> Option<&str> {
        id.as_str().rsplit_once('.').map(|(node, _)| node)
    }

    /// Registers a new connection (of `user`, if authenticated, speaking protocol `version`).
    /// Tells `changes` when this
    /// node newly needs the user's topic (its first connection here).
    ///
    /// Every `changes` call happens under the index lock, so the broker hears of needs in
    /// the order they changed: a user who leaves and comes back is never left unsubscribed.
    ///
    /// Refused, changing nothing, when this node already holds `capacity.per_node`
    /// connections, or `capacity.per_user` of this user's.
    pub(crate) fn connect(
        &self,
        bounds: Bounds,
        user: Option<Arc<str>>,
        version: u8,
        capacity: Capacity,
        changes: Changes<'_>,
    ) -> Result<(ConnectionId, Arc<Mailbox>, OutboundQueue), Full> {
        let mut index = self.write();
        if capacity
            .per_node
            .is_some_and(|limit| index.connections.len() >= limit)
        {
            return Err(Full::Node);
        }
        if let (Some(limit), Some(user)) = (capacity.per_user, &user)
            && index.users.get(user).is_some_and(|m| m.len() >= limit)
        {
            return Err(Full::User);
        }
        let n = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let id = ConnectionId::new(format!("{}.{n}", self.node_id));
        let mailbox = Arc::new(Mailbox::new(bounds, version));
        if let Some(user) = &user {
            let members = index.users.entry(user.clone()).or_default();
            if members.is_empty() {
                changes(Change::Interest(Topic::User(user.clone()), true));
            }
            members.insert(id.clone(), mailbox.clone());
        }
        index.connections.insert(
            id.clone(),
            Member {
                mailbox: mailbox.clone(),
                user,
                groups: Vec::new(),
                subscriptions: Vec::new(),
            },
        );
        drop(index);
        let outbound = OutboundQueue::new(mailbox.clone(), version);
        Ok((id, mailbox, outbound))
    }

    /// Whether `target` has a connection on this node.
    pub(crate) fn reaches(&self, target: Target<'_>) -> bool {
        if let Target::Presence(group) = target {
            return self.watchers().contains_key(group);
        }
        let index = self.read();
        match target {
            Target::Connections(ids) => ids.iter().any(|id| index.connections.contains_key(id)),
            Target::User(user) => index.users.contains_key(user),
            Target::Group(group) => {
                let mut any = false;
                index.reach_group(group, &mut |_, _| any = true);
                any
            }
            Target::Presence(_) => false,
        }
    }

    /// The queue of local connection `id`.
    pub(crate) fn mailbox(&self, id: &ConnectionId) -> Option<Arc<Mailbox>> {
        let index = self.read();
        index
            .connections
            .get(id)
            .map(|member| member.mailbox.clone())
    }

    /// The groups connection `id` is a member of, in the order it joined them.
    pub(crate) fn groups_of(&self, id: &ConnectionId) -> Vec<Arc<str>> {
        let index = self.read();
        index
            .connections
            .get(id)
            .map(|member| member.groups.clone())
            .unwrap_or_default()
    }

    /// The users and groups this node needs events for (to resubscribe after a broker
    /// reconnects).
    pub(crate) fn topics(&self) -> Vec<Topic> {
        let index = self.read();
        let users = index.users.keys().map(|u| Topic::User(u.clone()));
        let groups = index.groups.keys().map(|g| Topic::Group(g.clone()));
        let patterns = index
            .pattern_topics
            .iter()
            .map(|p| Topic::Pattern(p.clone()));
        let watched: Vec<Arc<str>> = self.watchers().keys().cloned().collect();
        let watched = watched.into_iter().map(Topic::Presence);
        users.chain(groups).chain(patterns).chain(watched).collect()
    }

    /// Every group's members on this node, counted by user. `mark` runs while no
    /// membership can change, so a broker can tell the changes the counts include from
    /// those they do not.
    pub(crate) fn presence(&self, mark: impl FnOnce()) -> Vec<(Arc<str>, PresenceCounts)> {
        let index = self.read();
        let counts = index
            .groups
            .iter()
            .map(|(group, members)| {
                let mut counts = PresenceCounts::default();
                for id in members.keys() {
                    let user = index.connections.get(id).and_then(|m| m.user.as_ref());
                    counts.apply(user, true);
                }
                (group.clone(), counts)
            })
            .collect();
        mark();
        drop(index);
        counts
    }

    pub(crate) fn stats(&self) -> NodeStats {
        let index = self.read();
        NodeStats {
            connections: index.connections.len(),
            users: index.users.len(),
            groups: index.groups.len(),
        }
    }

    // A panic while holding the lock cannot leave the index half-updated in a way later
    // operations trip over (each entry is inserted or removed whole), so a poisoned lock is
    // still usable.
    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn watchers(&self) -> RwLockReadGuard<'_, Watchers> {
        self.watchers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn watchers_mut(&self) -> RwLockWriteGuard<'_, Watchers> {
        self.watchers.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Adds `id` to the member set under `key`; true when it is the set's first member.
fn insert_member(
    sets: &mut HashMap<Arc<str>, Members>,
    key: &Arc<str>,
    id: &ConnectionId,
    mailbox: &Arc<Mailbox>,
) -> bool {
    let members = sets.entry(key.clone()).or_default();
    let first = members.is_empty();
    members.insert(id.clone(), mailbox.clone());
    first
}

/// Removes `id` from the member set under `key`; true when that emptied (and removed) it.
fn remove_member(sets: &mut HashMap<Arc<str>, Members>, key: &str, id: &ConnectionId) -> bool {
    let Some(members) = sets.get_mut(key) else {
        return false;
    };
    members.remove(id);
    let emptied = members.is_empty();
    if emptied {
        sets.remove(key);
    }
    emptied
}

#[cfg(test)]
mod tests;
