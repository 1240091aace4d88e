//! Who is in a group (`docs/protocol.md` §6.5): the snapshot a client asks for with
//! `beeflow.presence`, the notices `beeflow.join` and `beeflow.leave`, and the counts a
//! broker keeps to produce them.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Every connection that is a member of a group, on every node: the payload of event
/// `beeflow.presence`, and what [`Dispatcher::presence`](crate::Dispatcher::presence)
/// returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Presence {
    /// The group.
    pub topic: String,
    /// Its authenticated members, by user id, in user id order.
    pub members: Vec<PresenceMember>,
    /// How many of its connections are guests.
    pub guests: usize,
}

/// One user's share of a [`Presence`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PresenceMember {
    /// The user id.
    pub user: String,
    /// How many of the user's connections are members.
    pub connections: usize,
}

/// The payload of events `beeflow.join` (a user's first connection entered the group) and
/// `beeflow.leave` (its last one left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PresenceNotice {
    /// The group.
    pub topic: String,
    /// The user id.
    pub user: String,
}

/// The event name of a notice: `beeflow.join` when the user entered, `beeflow.leave` when it
/// left.
pub(crate) fn notice_event(joined: bool) -> &'static str {
    if joined {
        "beeflow.join"
    } else {
        "beeflow.leave"
    }
}

/// One group's members on one node (or summed over nodes): connections by user, and guests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceCounts {
    users: HashMap<Arc<str>, usize>,
    guests: usize,
}

impl PresenceCounts {
    /// Counts a connection of `user` (`None`: a guest) entering (`entered`) or leaving. For
    /// a user, returns how many of its connections are counted now.
    pub fn apply(&mut self, user: Option<&Arc<str>>, entered: bool) -> Option<usize> {
        let Some(user) = user else {
            self.guests = if entered {
                self.guests + 1
            } else {
                self.guests.saturating_sub(1)
            };
            return None;
        };
        let count = self.users.entry(user.clone()).or_default();
        *count = if entered {
            *count + 1
        } else {
            count.saturating_sub(1)
        };
        let now = *count;
        if now == 0 {
            self.users.remove(user);
        }
        Some(now)
    }

    /// Sets the count of `user`'s connections (`None`: of guests) to `connections`.
    pub fn set(&mut self, user: Option<&str>, connections: usize) {
        match user {
            None => self.guests = connections,
            Some(user) if connections == 0 => {
                self.users.remove(user);
            }
            Some(user) => {
                self.users.insert(user.into(), connections);
            }
        }
    }

    /// Every counted user with its connections, then `None` with the guests (if any).
    pub fn entries(&self) -> impl Iterator<Item = (Option<&str>, usize)> {
        let users = self.users.iter().map(|(user, n)| (Some(&**user), *n));
        let guests = (self.guests > 0).then_some((None, self.guests));
        users.chain(guests)
    }

    /// How many connections of `user` are counted.
    pub fn connections_of(&self, user: &str) -> usize {
        self.users.get(user).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        for (user, count) in &other.users {
            *self.users.entry(user.clone()).or_default() += count;
        }
        self.guests += other.guests;
    }

    /// Whether nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.guests == 0
    }

    /// The snapshot of group `topic` these counts make.
    pub fn to_presence(&self, topic: &str) -> Presence {
        let mut members: Vec<PresenceMember> = self
            .users
            .iter()
            .map(|(user, connections)| PresenceMember {
                user: user.to_string(),
                connections: *connections,
            })
            .collect();
        members.sort_by(|a, b| a.user.cmp(&b.user));
        Presence {
            topic: topic.to_owned(),
            members,
            guests: self.guests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_connections_and_sum_over_nodes() {
        let ada: Arc<str> = "ada".into();
        let mut here = PresenceCounts::default();
        assert_eq!(here.apply(Some(&ada), true), Some(1));
        assert_eq!(here.apply(Some(&ada), true), Some(2));
        assert_eq!(here.apply(None, true), None);
        let mut there = PresenceCounts::default();
        there.apply(Some(&"bob".into()), true);
        let mut all = PresenceCounts::default();
        all.add(&here);
        all.add(&there);
        let snapshot = all.to_presence("lobby");
        assert_eq!(snapshot.guests, 1);
        assert_eq!(
            snapshot.members,
            [
                PresenceMember {
                    user: "ada".into(),
                    connections: 2
                },
                PresenceMember {
                    user: "bob".into(),
                    connections: 1
                },
            ]
        );
        assert_eq!(here.apply(Some(&ada), false), Some(1));
        assert_eq!(here.apply(Some(&ada), false), Some(0));
        here.apply(None, false);
        assert!(here.is_empty());
    }
}
