//! The hub: this node's live connections, who they belong to, which groups they are in,
//! and the one outbound path into each of them.
//!
//! Every frame a connection receives (replies, emits from outside a request, events from other nodes, problems)
//! enters its bounded queue here. The per-connection `seq` is assigned when a frame leaves
//! the queue (`OutboundQueue::recv`), the single point all events pass, so it is gap-free by
//! construction.
//!
//! The hub also knows which [`Topic`]s this node needs deliveries for, and says so through
//! an interest callback whenever that changes; the broker layer above it listens.

mod union;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use crate::envelope::EventFrame;
use crate::outbound::{Bounds, Mailbox, OutboundQueue, Push, Queued};
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
}

type Members = HashMap<ConnectionId, Arc<Mailbox>>;

/// Told of each topic this node starts (`true`) or stops (`false`) needing.
pub(crate) type Interest<'a> = &'a dyn Fn(Topic, bool);

struct Member {
    mailbox: Arc<Mailbox>,
    user: Option<Arc<str>>,
    groups: Vec<Arc<str>>,
}

#[derive(Default)]
struct Index {
    connections: HashMap<ConnectionId, Member>,
    users: HashMap<Arc<str>, Members>,
    groups: HashMap<Arc<str>, Members>,
}

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
    /// Multi-topic deliveries received lately, so each is delivered once.
    recent: union::Recent,
}

impl Hub {
    pub(crate) fn new() -> Self {
        let node = Uuid::new_v4().simple().to_string();
        Self {
            node_id: node[..12].into(),
            next_connection: AtomicU64::new(1),
            index: RwLock::default(),
            recent: union::Recent::default(),
        }
    }

    /// This node's id; every connection id starts with it.
    pub(crate) fn node_id(&self) -> &Arc<str> {
        &self.node_id
    }

    /// The node a connection id belongs to.
    pub(crate) fn node_of(id: &ConnectionId) -> Option<&str> {
        id.as_str().rsplit_once('.').map(|(node, _)| node)
    }

    /// Registers a new connection (of `user`, if authenticated). Tells `interest` when this
    /// node newly needs the user's topic (its first connection here).
    ///
    /// Every `interest` call happens under the index lock, so the broker hears of needs in
    /// the order they changed: a user who leaves and comes back is never left unsubscribed.
    ///
    /// Refused, changing nothing, when this node already holds `capacity.per_node`
    /// connections, or `capacity.per_user` of this user's.
    pub(crate) fn connect(
        &self,
        bounds: Bounds,
        user: Option<Arc<str>>,
        capacity: Capacity,
        interest: Interest<'_>,
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
        let mailbox = Arc::new(Mailbox::new(bounds));
        if let Some(user) = &user {
            let members = index.users.entry(user.clone()).or_default();
            if members.is_empty() {
                interest(Topic::User(user.clone()), true);
            }
            members.insert(id.clone(), mailbox.clone());
        }
        index.connections.insert(
            id.clone(),
            Member {
                mailbox: mailbox.clone(),
                user,
                groups: Vec::new(),
            },
        );
        drop(index);
        let outbound = OutboundQueue::new(mailbox.clone());
        Ok((id, mailbox, outbound))
    }

    /// Forgets a connection and closes its queue. Tells `interest` which topics this node
    /// no longer needs (its user's and groups' last local member left).
    pub(crate) fn disconnect(&self, id: &ConnectionId, interest: Interest<'_>) {
        let mut index = self.write();
        let Some(member) = index.connections.remove(id) else {
            return;
        };
        if let Some(user) = member.user
            && remove_member(&mut index.users, &user, id)
        {
            interest(Topic::User(user), false);
        }
        for group in member.groups {
            if remove_member(&mut index.groups, &group, id) {
                interest(Topic::Group(group), false);
            }
        }
        drop(index);
        member.mailbox.close();
    }

    /// Adds a local connection to a group, telling `interest` when it is the first local
    /// member.
    pub(crate) fn join(
        &self,
        id: &ConnectionId,
        group: &Arc<str>,
        interest: Interest<'_>,
    ) -> Result<(), NotLocal> {
        let mut index = self.write();
        let index = &mut *index;
        let member = index.connections.get_mut(id).ok_or(NotLocal)?;
        if member.groups.contains(group) {
            return Ok(());
        }
        member.groups.push(group.clone());
        let members = index.groups.entry(group.clone()).or_default();
        if members.is_empty() {
            interest(Topic::Group(group.clone()), true);
        }
        members.insert(id.clone(), member.mailbox.clone());
        Ok(())
    }

    /// Removes a local connection from a group, telling `interest` when its last local
    /// member left.
    pub(crate) fn leave(
        &self,
        id: &ConnectionId,
        group: &str,
        interest: Interest<'_>,
    ) -> Result<(), NotLocal> {
        let mut index = self.write();
        let index = &mut *index;
        let member = index.connections.get_mut(id).ok_or(NotLocal)?;
        let Some(at) = member.groups.iter().position(|g| &**g == group) else {
            return Ok(());
        };
        let group = member.groups.remove(at);
        if remove_member(&mut index.groups, &group, id) {
            interest(Topic::Group(group), false);
        }
        Ok(())
    }

    /// Queues one serialized event for every local connection of `target`.
    pub(crate) fn deliver(&self, target: Target<'_>, frame: &Arc<EventFrame>) -> DeliveryReport {
        let index = self.read();
        let mut report = DeliveryReport::default();
        let mut push = |mailbox: Option<&Arc<Mailbox>>| report.add(Self::push(mailbox, frame));
        match target {
            Target::Connections(ids) => {
                for id in ids {
                    push(index.connections.get(id).map(|m| &m.mailbox));
                }
            }
            Target::User(user) => index
                .users
                .get(user)
                .into_iter()
                .flatten()
                .for_each(|(_, m)| push(Some(m))),
            Target::Group(group) => index
                .groups
                .get(group)
                .into_iter()
                .flatten()
                .for_each(|(_, m)| push(Some(m))),
        }
        report
    }

    /// Queues `frame` for one connection (`None`: not connected), counted in a report.
    fn push(mailbox: Option<&Arc<Mailbox>>, frame: &Arc<EventFrame>) -> DeliveryReport {
        let pushed = match mailbox {
            Some(mailbox) => mailbox.push(Queued::Event(frame.clone())),
            None => Push::Closed,
        };
        let mut report = DeliveryReport::default();
        match pushed {
            Push::Queued => report.delivered = 1,
            Push::Full => report.dropped = 1,
            Push::Closed => report.not_connected = 1,
        }
        report
    }

    /// The local connections of a user or group, or the given ids that are local.
    pub(crate) fn local_connections(&self, target: Target<'_>) -> Vec<ConnectionId> {
        let index = self.read();
        match target {
            Target::Connections(ids) => ids
                .iter()
                .filter(|id| index.connections.contains_key(*id))
                .cloned()
                .collect(),
            Target::User(user) => index
                .users
                .get(user)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
            Target::Group(group) => index
                .groups
                .get(group)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        }
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
        users.chain(groups).collect()
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
