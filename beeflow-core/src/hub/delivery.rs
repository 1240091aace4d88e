//! Delivery into this node's queues: to one target (connections, a user, a group with its
//! pattern subscribers, a group's presence watchers), or to several at once (an emit to
//! several recipients, or to a recipient except one connection), where each connection gets
//! the event once, the frame of the first target that reaches it.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{DeliveryReport, Hub, Index, Target};
use crate::envelope::EventFrame;
use crate::outbound::{Mailbox, Push, Queued};
use crate::recipient::ConnectionId;

impl Hub {
    /// Queues one serialized event for every local connection of `target`.
    pub(crate) fn deliver(&self, target: Target<'_>, frame: &Arc<EventFrame>) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let mut push =
            |mailbox: Option<&Arc<Mailbox>>| report.add(Self::push(mailbox.map(|m| &**m), frame));
        if let Target::Presence(group) = target {
            // Without the index lock: a notice may be delivered while it is held.
            let watchers = self.watchers();
            for mailbox in watchers.get(group).into_iter().flat_map(|m| m.values()) {
                push(Some(mailbox));
            }
            drop(watchers);
            return report;
        }
        let index = self.read();
        index.reach(target, &mut |reached| {
            push(reached.map(|(_, mailbox)| mailbox));
        });
        drop(index);
        report
    }

    /// Queues `frame` for one connection (`None`: not connected), counted in a report.
    pub(crate) fn push(mailbox: Option<&Mailbox>, frame: &Arc<EventFrame>) -> DeliveryReport {
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
            Target::Group(group) => {
                let mut ids = Vec::new();
                index.reach_group(group, &mut |id, _| ids.push(id.clone()));
                ids
            }
            Target::Presence(group) => self
                .watchers()
                .get(group)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// Delivers to the union of `parts`, in order, leaving out `except` and the connections
    /// of `earlier` targets (the parts of the same emit that came first, delivered as a
    /// delivery of their own): a connection that several parts reach is counted and queued
    /// once, with the first part's frame.
    pub(crate) fn deliver_parts(
        &self,
        earlier: &[Target<'_>],
        parts: &[(Target<'_>, &Arc<EventFrame>)],
        except: Option<&ConnectionId>,
    ) -> DeliveryReport {
        if let ([], [(target, frame)], None) = (earlier, parts, except) {
            return self.deliver(*target, frame);
        }
        let index = self.read();
        let mut report = DeliveryReport::default();
        let mut reached: HashSet<&ConnectionId> = HashSet::new();
        reached.extend(except);
        for target in earlier {
            index.reach(*target, &mut |here| {
                reached.extend(here.map(|(id, _)| id));
            });
        }
        for (target, frame) in parts {
            // Presence notices go to one group's watchers alone, never in a union.
            index.reach(*target, &mut |here| match here {
                Some((id, mailbox)) => {
                    if reached.insert(id) {
                        report.add(Self::push(Some(mailbox), frame));
                    }
                }
                None => report.not_connected += 1,
            });
        }
        report
    }

    /// Whether delivery `id` is seen here for the first time. A delivery to several topics
    /// is published on each of them, and one to a group reaches a node through each of its
    /// patterns that match, so a node may get it more than once; only the first copy is
    /// delivered.
    pub(crate) fn first_sight(&self, id: Uuid) -> bool {
        self.recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id)
    }
}

impl Index {
    /// Calls `reach` once for every connection `target` reaches here, and with `None` for
    /// each connection it names that is not here. A presence target reaches nobody through
    /// the index: its watchers are kept apart.
    pub(super) fn reach<'a>(
        &'a self,
        target: Target<'_>,
        reach: &mut impl FnMut(Option<(&'a ConnectionId, &'a Arc<Mailbox>)>),
    ) {
        match target {
            Target::Connections(ids) => {
                for id in ids {
                    reach(
                        self.connections
                            .get_key_value(id)
                            .map(|(id, member)| (id, &member.mailbox)),
                    );
                }
            }
            Target::User(user) => self
                .users
                .get(user)
                .into_iter()
                .flatten()
                .for_each(|(id, mailbox)| reach(Some((id, mailbox)))),
            Target::Group(group) => {
                self.reach_group(group, &mut |id, mailbox| reach(Some((id, mailbox))));
            }
            Target::Presence(_) => {}
        }
    }

    /// Calls `reach` once for every connection an event to `group` reaches here: its members,
    /// then the pattern subscribers that are not members.
    pub(super) fn reach_group<'a>(
        &'a self,
        group: &str,
        reach: &mut impl FnMut(&'a ConnectionId, &'a Arc<Mailbox>),
    ) {
        let members = self.groups.get(group);
        members
            .into_iter()
            .flatten()
            .for_each(|(id, m)| reach(id, m));
        if self.patterns.is_empty() {
            return;
        }
        // Allocates only when a pattern reaches a connection that is not a member.
        let mut seen: HashSet<&ConnectionId> = HashSet::new();
        self.patterns.for_each_match(group, &mut |id, mailbox| {
            let member = members.is_some_and(|m| m.contains_key(id));
            if !member && seen.insert(id) {
                reach(id, mailbox);
            }
        });
    }
}

/// The ids of the last [`RecentIds::CAPACITY`] deliveries this node received from others.
/// The copies of one delivery are published back to back, so they arrive close together;
/// the window only has to outlast that.
#[derive(Default)]
pub(crate) struct RecentIds {
    order: VecDeque<Uuid>,
    ids: HashSet<Uuid>,
}

impl RecentIds {
    const CAPACITY: usize = 4096;

    /// Records `id`; false if it was recorded already.
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

/// Shared by the hub's fields.
pub(crate) type Recent = Mutex<RecentIds>;

#[cfg(test)]
mod tests {
    use super::RecentIds;

    #[test]
    fn recent_ids_remember_a_bounded_window() {
        let mut recent = RecentIds::default();
        let first = uuid::Uuid::new_v4();
        assert!(recent.insert(first));
        assert!(!recent.insert(first));
        for _ in 0..RecentIds::CAPACITY {
            recent.insert(uuid::Uuid::new_v4());
        }
        assert_eq!(recent.order.len(), RecentIds::CAPACITY);
        assert!(recent.insert(first), "forgotten once out of the window");
    }
}
