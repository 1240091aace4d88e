//! What the dispatcher asks of the broker ([`Broker`]), handed to the connection task, the
//! publisher or the batcher.

use tokio::sync::oneshot;

use super::{
    Command, PRESENCE_TIMEOUT, RedisBroker, batcher, direct, publisher, sharded, streams, task,
};
use crate::broker::{
    Broker, BrokerError, ForwardedAction, HistoryFuture, Inbox, MembershipChange, PresenceFuture,
    PublishFuture, RemoteDelivery, StreamsFuture, SubscribedFuture, Topic,
};
use crate::limits::HistoryLimits;

impl Broker for RedisBroker {
    fn attach(&self, inbox: Inbox) {
        let receiver = self
            .inner
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let (Some(receiver), Ok(runtime)) = (receiver, tokio::runtime::Handle::try_current())
        else {
            tracing::error!(
                "a RedisBroker serves one node and needs a Tokio runtime: deliveries to other nodes are disabled"
            );
            return;
        };
        let _ = self.inner.node.set(inbox.node_id().into());
        let _ = self.inner.inbox.set(inbox.clone());
        runtime.spawn(task::run(self.inner.clone(), inbox, receiver));
        let jobs = self
            .inner
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(jobs) = jobs {
            runtime.spawn(batcher::run(
                self.inner.clone(),
                jobs,
                self.publish_timeout(),
            ));
        }
    }

    fn publish(&self, delivery: RemoteDelivery) -> PublishFuture {
        Box::pin(direct::publish(
            self.inner.clone(),
            delivery,
            &[],
            self.publish_timeout(),
        ))
    }

    fn publish_streams(
        &self,
        delivery: RemoteDelivery,
        history: HistoryLimits,
        await_local: bool,
    ) -> StreamsFuture {
        let (inner, jobs, timeout) = (
            self.inner.clone(),
            self.jobs.clone(),
            self.publish_timeout(),
        );
        // In a cluster a script call touches one stream: an emit to several is split.
        if inner.names.sharded()
            && let Some(pieces) = sharded::pieces(&delivery)
        {
            return Box::pin(sharded::publish_pieces(
                inner,
                jobs,
                pieces,
                history,
                timeout,
                await_local,
            ));
        }
        Box::pin(publisher::publish_one(
            inner,
            jobs,
            delivery,
            Vec::new(),
            history,
            timeout,
            await_local,
        ))
    }

    fn history(
        &self,
        stream: &Topic,
        after: u64,
        limit: usize,
        history: HistoryLimits,
    ) -> HistoryFuture {
        let stream = stream.stream();
        Box::pin(streams::history(
            self.inner.clone(),
            stream,
            after,
            limit,
            history,
        ))
    }

    fn subscribe(&self, node: &str, topic: Topic) {
        if !self.serves(node) {
            return;
        }
        self.inner.send(Command::Subscribe(topic));
    }

    fn unsubscribe(&self, node: &str, topic: Topic) {
        if !self.serves(node) {
            return;
        }
        self.inner.send(Command::Unsubscribe(topic));
    }

    fn subscribed(&self, node: &str, topic: &Topic) -> SubscribedFuture {
        let inner = self.inner.clone();
        let topic = topic.clone();
        // The subscription (or the unsubscription a leave queued before it) is a command
        // ahead of this one: once the task answers, the set below is up to date.
        let (reply, applied) = oneshot::channel();
        let asked = self.serves(node) && self.inner.send(Command::Barrier(reply));
        Box::pin(async move {
            if !asked {
                return false;
            }
            match tokio::time::timeout(PRESENCE_TIMEOUT, applied).await {
                Ok(Ok(())) => inner.subscribed().contains(&topic),
                _ => false,
            }
        })
    }

    fn forward(&self, node: &str, action: ForwardedAction) -> PublishFuture {
        let timeout = self.publish_timeout();
        Box::pin(direct::forward(
            self.inner.clone(),
            node.into(),
            action,
            timeout,
        ))
    }

    fn membership(&self, node: &str, change: MembershipChange) {
        if !self.serves(node) {
            return;
        }
        self.inner.send(Command::Membership(change));
    }

    fn presence(&self, group: &str) -> PresenceFuture {
        let (reply, answer) = oneshot::channel();
        let asked = self.inner.send(Command::Presence(group.into(), reply));
        Box::pin(async move {
            if !asked {
                return Err(BrokerError::Unavailable("not connected to Redis".into()));
            }
            let unavailable = || BrokerError::Unavailable("presence query unanswered".into());
            match tokio::time::timeout(PRESENCE_TIMEOUT, answer).await {
                Ok(Ok(presence)) => presence,
                _ => Err(unavailable()),
            }
        })
    }
}
