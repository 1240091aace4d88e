//! The in-process broker.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Broker, Inbox, PublishFuture, RemoteDelivery, Topic};

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
#[derive(Clone, Default)]
pub struct MemoryBroker {
    nodes: Arc<Mutex<HashMap<Arc<str>, Node>>>,
}

struct Node {
    inbox: Inbox,
    topics: HashSet<Topic>,
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
}

impl Broker for MemoryBroker {
    fn attach(&self, inbox: Inbox) {
        let node: Arc<str> = inbox.node_id().into();
        let topics = HashSet::from([Topic::Node(node.clone())]);
        let mut nodes = self.lock();
        // Nodes that were dropped never say so; forget them here.
        nodes.retain(|_, n| n.inbox.is_alive());
        nodes.insert(node, Node { inbox, topics });
    }

    fn publish(&self, delivery: RemoteDelivery) -> PublishFuture {
        let topics = delivery.topics();
        let receivers: Vec<Inbox> = self
            .lock()
            .iter()
            .filter(|(id, node)| {
                **id != delivery.origin
                    && topics.iter().any(|topic| node.topics.contains(*topic))
                    && node.inbox.is_alive()
            })
            .map(|(_, node)| node.inbox.clone())
            .collect();
        // Delivered outside the lock: a receiving node may publish in turn.
        for inbox in &receivers {
            inbox.deliver(&delivery);
        }
        Box::pin(std::future::ready(Ok(receivers.len())))
    }

    fn subscribe(&self, node: &str, topic: Topic) {
        if let Some(node) = self.lock().get_mut(node) {
            node.topics.insert(topic);
        }
    }

    fn unsubscribe(&self, node: &str, topic: Topic) {
        if let Some(node) = self.lock().get_mut(node) {
            node.topics.remove(&topic);
        }
    }
}

impl fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("nodes", &self.lock().len())
            .finish()
    }
}
