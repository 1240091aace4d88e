//! Version 2's client subscriptions and presence (`docs/protocol.md` §6.3, §6.5), as the
//! built-in actions and the dispatcher reach them: the application's hook decides, the hub
//! keeps them, the broker counts presence across nodes.

use std::panic::AssertUnwindSafe;

use super::Node;
use crate::context::ConnectionInfo;
use crate::hooks::SubscriptionRequest;
use crate::hub::Refused;
use crate::pattern::TopicPattern;
use crate::presence::Presence;
use crate::problem::{Problem, panic_message};
use crate::recipient::ConnectionId;

impl Node {
    /// Whether the application lets `connection` subscribe to `topic` (`presence`: and see
    /// who is there). No hook, or a hook that panics, refuses.
    pub(crate) fn authorize(
        &self,
        connection: &ConnectionInfo,
        topic: &TopicPattern,
        presence: bool,
    ) -> Result<(), Problem> {
        let Some(hook) = &self.hooks.authorize_subscription else {
            return Err(Problem::subscription_denied(topic.as_str()));
        };
        let request = SubscriptionRequest {
            runtime: self,
            info: connection,
            topic,
            presence,
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| hook(&request))) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Problem::subscription_denied(topic.as_str())),
            Err(panic) => {
                tracing::error!(
                    panic = panic_message(&*panic),
                    topic = topic.as_str(),
                    "the subscription hook panicked"
                );
                Err(Problem::subscription_denied(topic.as_str()))
            }
        }
    }

    /// Subscribes `connection` to `topic`, once the hook allowed it. True when the
    /// subscription is new.
    pub(crate) fn subscribe(
        &self,
        connection: &ConnectionInfo,
        topic: &TopicPattern,
        presence: bool,
    ) -> Result<bool, Problem> {
        self.authorize(connection, topic, presence)?;
        let limit = self.limits.max_subscriptions();
        self.hub
            .subscribe(&connection.id, topic, presence, limit, &|change| {
                self.changed(change);
            })
            .map_err(|refused| match refused {
                Refused::NotLocal => Problem::connection_not_found(connection.id.as_str()),
                Refused::TooMany => Problem::too_many_subscriptions(limit),
            })
    }

    /// Ends a subscription (nothing happens if there is none).
    pub(crate) fn unsubscribe(&self, id: &ConnectionId, topic: &str) -> Result<(), Problem> {
        self.hub
            .unsubscribe(id, topic, &|change| self.changed(change))
            .map(drop)
            .map_err(|_| Problem::connection_not_found(id.as_str()))
    }

    /// Who is in `group` on every node.
    pub(crate) async fn presence(&self, group: &str) -> Result<Presence, Problem> {
        self.broker.presence(group).await.map_err(|error| {
            tracing::warn!(%error, group, "presence could not be read from the broker");
            Problem::presence_unavailable()
        })
    }
}
