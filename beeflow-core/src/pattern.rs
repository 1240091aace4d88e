//! Topics a client subscribes to (`docs/protocol.md` §6.3): a group name, or a pattern of
//! them. Tokens are separated by `.`; the token `*` stands for exactly one token, and `>`
//! (last position only) for one or more trailing tokens.

use std::fmt;
use std::sync::Arc;

/// A topic that passed [`TopicPattern::parse`]: an exact group name or a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPattern {
    text: Arc<str>,
    wildcard: bool,
}

/// Why a topic was refused (the `detail` of Problem `invalid_topic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidTopic {
    /// Empty, or longer than [`TopicPattern::MAX_BYTES`].
    #[error("a topic has 1 to 255 bytes")]
    Length,
    /// Starts or ends with `.`, or has `..`.
    #[error("a topic's tokens are not empty: no leading, trailing or double '.'")]
    EmptyToken,
    /// `*` or `>` inside a token (`a*`), or `>` before the last token.
    #[error("'*' and '>' are whole tokens, and '>' only the last one")]
    MisplacedWildcard,
}

impl TopicPattern {
    /// The most bytes a topic may have.
    pub const MAX_BYTES: usize = 255;

    /// Checks `text` against the topic rules.
    ///
    /// # Errors
    ///
    /// [`InvalidTopic`] says which rule it breaks.
    pub fn parse(text: &str) -> Result<Self, InvalidTopic> {
        if text.is_empty() || text.len() > Self::MAX_BYTES {
            return Err(InvalidTopic::Length);
        }
        let mut wildcard = false;
        let mut tokens = text.split('.').peekable();
        while let Some(token) = tokens.next() {
            match token {
                "" => return Err(InvalidTopic::EmptyToken),
                "*" => wildcard = true,
                ">" if tokens.peek().is_none() => wildcard = true,
                _ if token.contains(['*', '>']) => return Err(InvalidTopic::MisplacedWildcard),
                _ => {}
            }
        }
        Ok(Self {
            text: text.into(),
            wildcard,
        })
    }

    /// The topic as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The topic, shared.
    pub(crate) fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// Whether it has a `*` or `>` token (else it names one group).
    pub fn is_pattern(&self) -> bool {
        self.wildcard
    }

    /// Whether group `name` is one the topic stands for.
    pub fn matches(&self, name: &str) -> bool {
        if !self.wildcard {
            return *self.text == *name;
        }
        let mut names = name.split('.');
        for token in self.text.split('.') {
            match (token, names.next()) {
                (">", Some(_)) => return true,
                ("*", Some(_)) => {}
                (token, Some(name)) if token == name => {}
                _ => return false,
            }
        }
        names.next().is_none()
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(text: &str) -> TopicPattern {
        TopicPattern::parse(text).unwrap()
    }

    #[test]
    fn exact_topics_and_patterns_parse() {
        assert!(!topic("orders.eu").is_pattern());
        assert!(!topic("lobby room").is_pattern());
        assert!(topic("orders.*").is_pattern());
        assert!(topic("orders.>").is_pattern());
        assert!(topic("*.eu").is_pattern());
        assert!(topic(">").is_pattern());
        assert_eq!(topic(&"x".repeat(255)).as_str().len(), 255);
    }

    #[test]
    fn malformed_topics_say_why() {
        assert_eq!(TopicPattern::parse(""), Err(InvalidTopic::Length));
        assert_eq!(
            TopicPattern::parse(&"x".repeat(256)),
            Err(InvalidTopic::Length)
        );
        for text in [".a", "a.", "a..b", "."] {
            assert_eq!(
                TopicPattern::parse(text),
                Err(InvalidTopic::EmptyToken),
                "{text}"
            );
        }
        for text in ["a*", "a.>.b", ">.a", "a.b>", "*x.y"] {
            assert_eq!(
                TopicPattern::parse(text),
                Err(InvalidTopic::MisplacedWildcard),
                "{text}"
            );
        }
    }

    #[test]
    fn star_is_one_token_and_tail_is_one_or_more() {
        assert!(topic("a.*").matches("a.b"));
        assert!(!topic("a.*").matches("a.b.c"));
        assert!(!topic("a.*").matches("a"));
        assert!(topic("a.>").matches("a.b"));
        assert!(topic("a.>").matches("a.b.c"));
        assert!(!topic("a.>").matches("a"));
        assert!(topic("*.b.*").matches("x.b.y"));
        assert!(!topic("*.b.*").matches("x.c.y"));
        assert!(topic(">").matches("anything.at.all"));
        assert!(topic("a.b").matches("a.b"));
        assert!(!topic("a.b").matches("a.b.c"));
    }
}
