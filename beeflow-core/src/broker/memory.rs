//! The in-process broker.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::history::MemoryHistory;
use super::{
    Broker, ForwardedAction, HistoryFuture, Inbox, MembershipChange, PresenceFuture, PublishFuture,
    RemoteDelivery, StreamsFuture, StreamsReport, Topic,
};
use crate::hub::DeliveryReport;
use crate::limits::HistoryLimits;
use crate::pattern::TopicPattern;
use crate::presence::PresenceCounts;

/// Connects the dispatchers of one process: each is a node, deliveries between them are
/// handed over in memory, synchronously. A dispatcher gets its own `MemoryBroker` unless
/// it is given one; share one (it is cheap to clone) to run several nodes in a process.
///
/// ```
/// use beeflow_core::broker::MemoryBroker;
/// use beeflow_core::Dispatcher;
///
/// let broker = MemoryBroker::new();
/// let node_a = Dispatcher::builder().broker(broker.clone()).build().unwrap();
/// let node_b = Dispatcher::builder().broker(broker).build().unwrap();
/// # let _ = (node_a, node_b);
/// ```
///
/// It keeps every user's and group's stream history in memory, for clients to recover what
/// they missed; a new `MemoryBroker` (a restarted process) starts new epochs.
#[derive(Clone, Default)]
pub struct MemoryBroker {
    nodes: Arc<Mutex<HashMap<Arc<str>, Node>>>,
    /// Held while a stream delivery is positioned and handed to every node, so each
    /// stream's events reach every connection in position order. Taken before `nodes`,
    /// never while a hub's lock is held.
    history: Arc<Mutex<MemoryHistory>>,
}

struct Node {
    inbox: Inbox,
    topics: HashSet<Topic>,
    /// The pattern topics among `topics`, parsed.
    patterns: Vec<TopicPattern>,
    /// This node's members, by group.
    presence: HashMap<Arc<str>, PresenceCounts>,
}

impl Node {
    /// Whether this node takes deliveries for `topic`.
    fn needs(&self, topic: &Topic) -> bool {
        self.topics.contains(topic)
            || matches!(topic, Topic::Group(group)
                if self.patterns.iter().any(|pattern| pattern.matches(group)))
    }
}

impl MemoryBroker {
    /// A broker with no nodes yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Node>> {
        // Each critical section inserts or removes whole entries.
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn streams(&self) -> MutexGuard<'_, MemoryHistory> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How many connections of `user` are members of `group` on the live nodes.
fn connections_of(nodes: &HashMap<Arc<str>, Node>, group: &str, user: &str) -> usize {
    nodes
        .values()
        .filter(|node| node.inbox.is_alive())
        .filter_map(|node| node.presence.get(group))
        .map(|counts| counts.connections_of(user))
        .sum()
}

impl Broker for MemoryBroker {
    fn attach(&self, inbox: Inbox) {
        let node: Arc<str> = inbox.node_id().into();
        let topics = HashSet::from([Topic::Node(node.clone())]);
        let mut nodes = self.lock();
        // Nodes that were dropped never say so; forget them here.
        nodes.retain(|_, n| n.inbox.is_alive());
        nodes.insert(
            node,
            Node {
                inbox,
                topics,
                patterns: Vec::new(),
                presence: HashMap::new(),
            },
        );
    }

    fn publish(&self, delivery: RemoteDelivery) -> PublishFuture {
        let topics = delivery.topics();
        let receivers: Vec<Inbox> = self
            .lock()
            .iter()
            .filter(|(id, node)| {
                **id != delivery.origin
                    && topics.iter().any(|topic| node.needs(topic))
                    && node.inbox.is_alive()
            })
            .map(|(_, node)| node.inbox.clone())
            .collect();
        // Delivered outside the lock: a receiving node may publish in turn.
        for inbox in &receivers {
            inbox.deliver_once(&delivery);
        }
        Box::pin(std::future::ready(Ok(receivers.len())))
    }

    fn forward(&self, node: &str, action: ForwardedAction) -> PublishFuture {
        let inbox = self
            .lock()
            .get(node)
            .filter(|n| n.inbox.is_alive())
            .map(|n| n.inbox.clone());
        let taken = inbox.map_or(0, |inbox| {
            inbox.forward_action(action);
            1
        });
        Box::pin(std::future::ready(Ok(taken)))
    }

    fn publish_streams(
        &self,
        mut delivery: RemoteDelivery,
        limits: HistoryLimits,
        _await_local: bool,
    ) -> StreamsFuture {
        let now = std::time::Instant::now();
        let mut history = self.streams();
        for part in &mut delivery.parts {
            if let Some(stream) = part.topic.stream() {
                history.append(stream, &mut part.frame, limits, now);
            }
        }
        let topics = delivery.topics();
        let receivers: Vec<(bool, Inbox)> = self
            .lock()
            .iter()
            .filter(|(_, node)| node.inbox.is_alive())
            .filter_map(|(id, node)| {
                let origin = **id == *delivery.origin;
                let needs = origin || topics.iter().any(|topic| node.needs(topic));
                needs.then(|| (origin, node.inbox.clone()))
            })
            .collect();
        let mut local = DeliveryReport::default();
        let mut others = 0;
        for (origin, inbox) in &receivers {
            let report = inbox.deliver_once(&delivery);
            if *origin {
                local = report;
            } else {
                others += 1;
            }
        }
        // Released only now: the next event of these streams reaches no node before this one.
        drop(history);
        Box::pin(std::future::ready(StreamsReport::new(local, Ok(others))))
    }

    fn history(
        &self,
        stream: &Topic,
        after: u64,
        limit: usize,
        limits: HistoryLimits,
    ) -> HistoryFuture {
        let read = stream.stream().and_then(|stream| {
            self.streams()
                .read(&stream, after, limit, limits, std::time::Instant::now())
        });
        Box::pin(std::future::ready(Ok(read)))
    }

    fn subscribe(&self, node: &str, topic: Topic) {
        if let Some(node) = self.lock().get_mut(node) {
            if let Topic::Pattern(pattern) = &topic
                && let Ok(pattern) = TopicPattern::parse(pattern)
            {
                node.patterns.push(pattern);
            }
            node.topics.insert(topic);
        }
    }

    fn unsubscribe(&self, node: &str, topic: Topic) {
        if let Some(node) = self.lock().get_mut(node) {
            if let Topic::Pattern(pattern) = &topic {
                node.patterns.retain(|p| p.as_str() != &**pattern);
            }
            node.topics.remove(&topic);
        }
    }

    fn membership(&self, node: &str, change: MembershipChange) {
        let MembershipChange {
            group,
            user,
            entered,
        } = change;
        let mut nodes = self.lock();
        let before = user
            .as_ref()
            .map(|user| connections_of(&nodes, &group, user));
        let Some(counts) = nodes
            .get_mut(node)
            .map(|node| node.presence.entry(group.clone()).or_default())
        else {
            return;
        };
        counts.apply(user.as_ref(), entered);
        if counts.is_empty() {
            nodes.get_mut(node).map(|node| node.presence.remove(&group));
        }
        let (Some(user), Some(before)) = (user, before) else {
            return;
        };
        let after = connections_of(&nodes, &group, &user);
        if (before == 0) == (after == 0) {
            return;
        }
        let watching = Topic::Presence(group.clone());
        let watchers: Vec<Inbox> = nodes
            .values()
            .filter(|node| node.topics.contains(&watching) && node.inbox.is_alive())
            .map(|node| node.inbox.clone())
            .collect();
        drop(nodes);
        for inbox in watchers {
            inbox.presence_notice(&group, &user, after > 0);
        }
    }

    fn presence(&self, group: &str) -> PresenceFuture {
        let mut all = PresenceCounts::default();
        for node in self.lock().values().filter(|node| node.inbox.is_alive()) {
            if let Some(counts) = node.presence.get(group) {
                all.add(counts);
            }
        }
        Box::pin(std::future::ready(Ok(all.to_presence(group))))
    }
}

impl fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("nodes", &self.lock().len())
            .finish()
    }
}
