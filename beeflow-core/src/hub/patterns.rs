//! The pattern subscriptions of this node's connections, in a token trie: finding who a group
//! name reaches walks one path per matching wildcard, so its cost does not grow with the
//! patterns that do not match.

use std::collections::HashMap;
use std::sync::Arc;

use super::Members;
use crate::outbound::Mailbox;
use crate::recipient::ConnectionId;

/// Pattern topics (each with a `*` or `>` token) and the connections subscribed to them.
#[derive(Default)]
pub(super) struct PatternTrie {
    root: TrieNode,
}

#[derive(Default)]
struct TrieNode {
    /// Literal next tokens.
    literal: HashMap<Box<str>, TrieNode>,
    /// The `*` next token.
    star: Option<Box<TrieNode>>,
    /// Subscribers of the pattern that ends here.
    end: Members,
    /// Subscribers of the pattern that ends here with `>`.
    tail: Members,
}

impl TrieNode {
    fn is_empty(&self) -> bool {
        self.literal.is_empty()
            && self.star.is_none()
            && self.end.is_empty()
            && self.tail.is_empty()
    }
}

impl PatternTrie {
    pub(super) fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Subscribes `id` to `pattern`; true when it is the pattern's first subscriber here.
    pub(super) fn insert(
        &mut self,
        pattern: &str,
        id: &ConnectionId,
        mailbox: &Arc<Mailbox>,
    ) -> bool {
        let mut node = &mut self.root;
        let mut tokens = pattern.split('.').peekable();
        while let Some(token) = tokens.next() {
            let last = tokens.peek().is_none();
            if token == ">" && last {
                return insert_first(&mut node.tail, id, mailbox);
            }
            node = if token == "*" {
                node.star.get_or_insert_default()
            } else {
                node.literal.entry(token.into()).or_default()
            };
        }
        insert_first(&mut node.end, id, mailbox)
    }

    /// Unsubscribes `id` from `pattern`; true when that left the pattern without subscribers
    /// here.
    pub(super) fn remove(&mut self, pattern: &str, id: &ConnectionId) -> bool {
        let tokens: Vec<&str> = pattern.split('.').collect();
        remove_at(&mut self.root, &tokens, id)
    }

    /// Calls `reach` with every subscriber of a pattern that `group` matches (a connection
    /// subscribed to several of them, once per pattern).
    pub(super) fn for_each_match<'a>(
        &'a self,
        group: &str,
        reach: &mut impl FnMut(&'a ConnectionId, &'a Arc<Mailbox>),
    ) {
        walk(&self.root, Some(group), reach);
    }
}

fn insert_first(members: &mut Members, id: &ConnectionId, mailbox: &Arc<Mailbox>) -> bool {
    let first = members.is_empty();
    members.insert(id.clone(), mailbox.clone());
    first
}

/// Removes `id` from the pattern `tokens` below `node`, pruning nodes left empty; true when
/// the pattern has no subscriber left.
fn remove_at(node: &mut TrieNode, tokens: &[&str], id: &ConnectionId) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        node.end.remove(id);
        return node.end.is_empty();
    };
    if *token == ">" && rest.is_empty() {
        node.tail.remove(id);
        return node.tail.is_empty();
    }
    if *token == "*" {
        let Some(star) = node.star.as_deref_mut() else {
            return false;
        };
        let emptied = remove_at(star, rest, id);
        if star.is_empty() {
            node.star = None;
        }
        return emptied;
    }
    let Some(child) = node.literal.get_mut(*token) else {
        return false;
    };
    let emptied = remove_at(child, rest, id);
    if child.is_empty() {
        node.literal.remove(*token);
    }
    emptied
}

/// Visits the subscribers below `node` of patterns matching `rest` (`None`: no token left).
fn walk<'a>(
    node: &'a TrieNode,
    rest: Option<&str>,
    reach: &mut impl FnMut(&'a ConnectionId, &'a Arc<Mailbox>),
) {
    let Some(rest) = rest else {
        node.end.iter().for_each(|(id, mailbox)| reach(id, mailbox));
        return;
    };
    node.tail
        .iter()
        .for_each(|(id, mailbox)| reach(id, mailbox));
    let (token, next) = match rest.split_once('.') {
        Some((token, next)) => (token, Some(next)),
        None => (rest, None),
    };
    if let Some(child) = node.literal.get(token) {
        walk(child, next, reach);
    }
    if let Some(star) = &node.star {
        walk(star, next, reach);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::SlowConsumer;
    use crate::outbound::Bounds;

    fn matches(trie: &PatternTrie, group: &str) -> Vec<String> {
        let mut ids = Vec::new();
        trie.for_each_match(group, &mut |id, _| ids.push(id.as_str().to_owned()));
        ids.sort();
        ids
    }

    fn mailbox() -> Arc<Mailbox> {
        Arc::new(Mailbox::new(
            Bounds {
                frames: 4,
                bytes: 1 << 10,
                policy: SlowConsumer::Close,
            },
            1,
        ))
    }

    #[test]
    fn patterns_reach_the_groups_they_stand_for() {
        let mut trie = PatternTrie::default();
        let m = mailbox();
        assert!(trie.insert("a.*", &ConnectionId::new("star"), &m));
        assert!(trie.insert("a.>", &ConnectionId::new("tail"), &m));
        assert!(trie.insert("*.b.*", &ConnectionId::new("mid"), &m));
        assert!(!trie.insert("a.*", &ConnectionId::new("star2"), &m));
        assert_eq!(matches(&trie, "a.b"), ["star", "star2", "tail"]);
        assert_eq!(matches(&trie, "a.b.c"), ["mid", "tail"]);
        assert_eq!(matches(&trie, "a"), Vec::<String>::new());
        assert_eq!(matches(&trie, "x.b.y"), ["mid"]);
    }

    #[test]
    fn removing_the_last_subscriber_prunes_the_pattern() {
        let mut trie = PatternTrie::default();
        let m = mailbox();
        trie.insert("a.*.c", &ConnectionId::new("1"), &m);
        trie.insert("a.*.c", &ConnectionId::new("2"), &m);
        trie.insert("a.>", &ConnectionId::new("3"), &m);
        assert!(!trie.remove("a.*.c", &ConnectionId::new("1")));
        assert!(trie.remove("a.*.c", &ConnectionId::new("2")));
        assert!(trie.remove("a.>", &ConnectionId::new("3")));
        assert!(trie.is_empty());
        assert!(!trie.remove("never.*", &ConnectionId::new("1")));
    }
}
