//! Who is in which group: joined by an action, subscribed by the client (to the group's
//! exact topic or to a pattern), watching its presence; and leaving it all on disconnect.
//!
//! A connection is a group's member once, however it got there: joining a group it already
//! subscribed to (or the reverse) changes nothing a delivery or the presence counts can see.

use std::sync::Arc;

use super::{Change, Changes, Hub, Index, Member, NotLocal, Topic, insert_member, remove_member};
use crate::outbound::Mailbox;
use crate::pattern::TopicPattern;
use crate::recipient::ConnectionId;

/// One topic a connection subscribed to.
pub(super) struct Subscription {
    topic: TopicPattern,
    /// Whether it also watches the group's presence (exact topics only).
    presence: bool,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The connection is not held by this node.
    NotLocal,
    /// It already has `limit` subscriptions.
    TooMany,
}

impl Member {
    fn is_subscribed_to(&self, group: &str) -> bool {
        self.subscriptions
            .iter()
            .any(|s| !s.topic.is_pattern() && s.topic.as_str() == group)
    }
}

impl Hub {
    /// Adds a local connection to a group, telling `changes` when the connection enters it
    /// and when it is the group's first local member.
    pub(crate) fn join(
        &self,
        id: &ConnectionId,
        group: &Arc<str>,
        changes: Changes<'_>,
    ) -> Result<(), NotLocal> {
        let mut index = self.write();
        let index = &mut *index;
        let member = index.connections.get_mut(id).ok_or(NotLocal)?;
        if member.groups.contains(group) {
            return Ok(());
        }
        member.groups.push(group.clone());
        if !member.is_subscribed_to(group) {
            let (mailbox, user) = (member.mailbox.clone(), member.user.clone());
            enter(index, Who { id, user: &user }, &mailbox, group, changes);
        }
        Ok(())
    }

    /// Removes a local connection from a group it joined, telling `changes` when it leaves
    /// the group and when its last local member left.
    pub(crate) fn leave(
        &self,
        id: &ConnectionId,
        group: &str,
        changes: Changes<'_>,
    ) -> Result<(), NotLocal> {
        let mut index = self.write();
        let index = &mut *index;
        let member = index.connections.get_mut(id).ok_or(NotLocal)?;
        let Some(at) = member.groups.iter().position(|g| &**g == group) else {
            return Ok(());
        };
        let group = member.groups.remove(at);
        if !member.is_subscribed_to(&group) {
            let user = member.user.clone();
            exit(index, Who { id, user: &user }, &group, changes);
        }
        Ok(())
    }

    /// Subscribes a local connection to `topic` (and to its presence), unless it holds
    /// `limit` subscriptions already. Subscribing again to the same topic changes nothing,
    /// except that it may start watching presence. True when the subscription is new.
    pub(crate) fn subscribe(
        &self,
        id: &ConnectionId,
        topic: &TopicPattern,
        presence: bool,
        limit: usize,
        changes: Changes<'_>,
    ) -> Result<bool, Refused> {
        let mut index = self.write();
        let index = &mut *index;
        let member = index.connections.get_mut(id).ok_or(Refused::NotLocal)?;
        let text = topic.text();
        let existing = member
            .subscriptions
            .iter_mut()
            .find(|s| s.topic.as_str() == &**text);
        let new = existing.is_none();
        let newly_watching = match existing {
            Some(existing) => {
                let newly = presence && !existing.presence;
                existing.presence |= presence;
                newly
            }
            None => {
                if member.subscriptions.len() >= limit {
                    return Err(Refused::TooMany);
                }
                member.subscriptions.push(Subscription {
                    topic: topic.clone(),
                    presence,
                });
                let (mailbox, user) = (member.mailbox.clone(), member.user.clone());
                if topic.is_pattern() {
                    if index.patterns.insert(text, id, &mailbox) {
                        index.pattern_topics.insert(text.clone());
                        changes(Change::Interest(Topic::Pattern(text.clone()), true));
                    }
                } else if !member.groups.contains(text) {
                    enter(index, Who { id, user: &user }, &mailbox, text, changes);
                }
                presence
            }
        };
        if newly_watching {
            let mailbox = index.connections[id].mailbox.clone();
            let first = insert_member(&mut self.watchers_mut(), text, id, &mailbox);
            if first {
                changes(Change::Interest(Topic::Presence(text.clone()), true));
            }
        }
        Ok(new)
    }

    /// Ends a local connection's subscription to `topic` (the string it subscribed with);
    /// false when it had none.
    pub(crate) fn unsubscribe(
        &self,
        id: &ConnectionId,
        topic: &str,
        changes: Changes<'_>,
    ) -> Result<bool, NotLocal> {
        let mut index = self.write();
        let index = &mut *index;
        let member = index.connections.get_mut(id).ok_or(NotLocal)?;
        let Some(at) = member
            .subscriptions
            .iter()
            .position(|s| s.topic.as_str() == topic)
        else {
            return Ok(false);
        };
        let subscription = member.subscriptions.remove(at);
        let joined = member.groups.iter().any(|g| **g == *topic);
        let user = member.user.clone();
        self.drop_subscription(
            index,
            Who { id, user: &user },
            subscription,
            joined,
            changes,
        );
        Ok(true)
    }

    /// Forgets a connection and closes its queue. Tells `changes` which groups it left and
    /// which topics this node no longer needs (its user's and groups' last local member left).
    pub(crate) fn disconnect(&self, id: &ConnectionId, changes: Changes<'_>) {
        let mut index = self.write();
        let Some(member) = index.connections.remove(id) else {
            return;
        };
        let who = Who {
            id,
            user: &member.user,
        };
        for subscription in member.subscriptions {
            let joined = member
                .groups
                .iter()
                .any(|g| **g == *subscription.topic.as_str());
            self.drop_subscription(&mut index, who, subscription, joined, changes);
        }
        for group in &member.groups {
            exit(&mut index, who, group, changes);
        }
        if let Some(user) = member.user
            && remove_member(&mut index.users, &user, id)
        {
            changes(Change::Interest(Topic::User(user), false));
        }
        drop(index);
        member.mailbox.close();
    }
}

/// A connection, and the user it belongs to (what a membership change reports).
#[derive(Clone, Copy)]
struct Who<'a> {
    id: &'a ConnectionId,
    user: &'a Option<Arc<str>>,
}

impl Hub {
    /// Undoes a subscription; `joined`: whether an action joined the connection to the same
    /// group (which keeps it a member).
    fn drop_subscription(
        &self,
        index: &mut Index,
        who: Who<'_>,
        subscription: Subscription,
        joined: bool,
        changes: Changes<'_>,
    ) {
        let text = subscription.topic.text();
        if subscription.topic.is_pattern() {
            if index.patterns.remove(text, who.id) {
                index.pattern_topics.remove(text);
                changes(Change::Interest(Topic::Pattern(text.clone()), false));
            }
        } else if !joined {
            exit(index, who, text, changes);
        }
        if subscription.presence {
            let emptied = remove_member(&mut self.watchers_mut(), text, who.id);
            if emptied {
                changes(Change::Interest(Topic::Presence(text.clone()), false));
            }
        }
    }
}

/// Makes a connection a member of `group`.
fn enter(
    index: &mut Index,
    who: Who<'_>,
    mailbox: &Arc<Mailbox>,
    group: &Arc<str>,
    changes: Changes<'_>,
) {
    if insert_member(&mut index.groups, group, who.id, mailbox) {
        changes(Change::Interest(Topic::Group(group.clone()), true));
    }
    changes(Change::Membership {
        group: group.clone(),
        user: who.user.clone(),
        entered: true,
    });
}

/// Ends a connection's membership of `group`.
fn exit(index: &mut Index, who: Who<'_>, group: &Arc<str>, changes: Changes<'_>) {
    changes(Change::Membership {
        group: group.clone(),
        user: who.user.clone(),
        entered: false,
    });
    if remove_member(&mut index.groups, group, who.id) {
        changes(Change::Interest(Topic::Group(group.clone()), false));
    }
}
