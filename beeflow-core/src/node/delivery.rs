//! The one delivery path: every event (a reply, an emit from inside or outside a request,
//! an event for another node) is routed here, serialized once, and queued for this node's
//! connections or handed to the broker for other nodes.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use uuid::Uuid;

use super::Node;
use crate::broker::RemoteDelivery;
use crate::context::ResolveContext;
use crate::envelope::EventFrame;
use crate::event::Emit;
use crate::hub::{DeliveryReport, Hub, Target, Topic};
use crate::problem::{Problem, panic_message};
use crate::recipient::{ConnectionId, GROUP, Recipient, USER, WEBSOCKET};

impl Node {
    /// Delivers `emit` (addressed to `requester` when it names no recipient).
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        emit: Emit,
        req_id: Option<Uuid>,
        requester: Option<&ConnectionId>,
    ) -> Result<DeliveryReport, Problem> {
        let event = emit.event;
        let recipient = match (emit.recipient, requester) {
            (Some(recipient), _) => recipient,
            (None, Some(requester)) => Recipient::connection(requester),
            (None, None) => return Err(Problem::reply_outside_request(event)),
        };
        let frame = Arc::new(EventFrame::new(
            req_id,
            emit.event,
            &recipient,
            &emit.payload,
            emit.droppable,
        ));
        let report = match recipient.kind() {
            WEBSOCKET => {
                let id = match requester {
                    Some(requester) if requester.as_str() == recipient.id() => requester.clone(),
                    _ => ConnectionId::new(recipient.id()),
                };
                self.to_connections(vec![id], &frame).await
            }
            USER => {
                let user: Arc<str> = recipient.id().into();
                let mut report = self.hub.deliver(Target::User(&user), &frame);
                report.add(self.publish(Topic::User(user), Vec::new(), &frame).await);
                report
            }
            GROUP => {
                let group: Arc<str> = recipient.id().into();
                let mut report = self.hub.deliver(Target::Group(&group), &frame);
                report.add(self.publish(Topic::Group(group), Vec::new(), &frame).await);
                report
            }
            _ => {
                let ids = self.resolve(&recipient).await?;
                self.to_connections(ids, &frame).await
            }
        };
        self.telemetry
            .delivered(event, report.delivered, report.dropped);
        Ok(report)
    }

    /// Queues for the local connections among `ids` and publishes the rest to their nodes.
    async fn to_connections(
        self: &Arc<Self>,
        ids: Vec<ConnectionId>,
        frame: &Arc<EventFrame>,
    ) -> DeliveryReport {
        let node = self.hub.node_id();
        // The common case — a reply to the requester, or any single local connection —
        // needs no partitioning.
        if let [id] = ids.as_slice()
            && Hub::node_of(id) == Some(&**node)
        {
            return self.hub.deliver(Target::Connections(&ids), frame);
        }
        let (local, remote): (Vec<_>, Vec<_>) = ids
            .into_iter()
            .partition(|id| Hub::node_of(id) == Some(&**node));
        let mut report = self.hub.deliver(Target::Connections(&local), frame);
        let mut by_node: HashMap<Arc<str>, Vec<ConnectionId>> = HashMap::new();
        for id in remote {
            match Hub::node_of(&id) {
                Some(node) => by_node.entry(node.into()).or_default().push(id),
                // Not an id any node issued.
                None => report.not_connected += 1,
            }
        }
        for (node, ids) in by_node {
            let count = ids.len();
            let published = self.publish(Topic::Node(node), ids, frame).await;
            if published.published == 0 && published.lost == 0 {
                // No node by that id took it: those connections do not exist.
                report.not_connected += count;
            }
            report.add(published);
        }
        report
    }

    async fn publish(
        &self,
        topic: Topic,
        connections: Vec<ConnectionId>,
        frame: &Arc<EventFrame>,
    ) -> DeliveryReport {
        let delivery = RemoteDelivery {
            topic,
            connections,
            frame: frame.clone(),
            origin: self.hub.node_id().clone(),
        };
        let mut report = DeliveryReport::default();
        match self.broker.publish(delivery).await {
            Ok(nodes) => {
                report.published = nodes;
                self.telemetry.published(true);
            }
            Err(error) => {
                tracing::warn!(%error, "a delivery for other nodes was lost");
                report.lost = 1;
                self.telemetry.published(false);
            }
        }
        report
    }

    async fn resolve(
        self: &Arc<Self>,
        recipient: &Recipient,
    ) -> Result<Vec<ConnectionId>, Problem> {
        let def = self
            .registry
            .resolver(recipient.kind())
            .ok_or_else(|| Problem::unknown_recipient_type(recipient.kind()))?;
        let cx = ResolveContext {
            runtime: self.clone(),
        };
        let resolving = std::panic::catch_unwind(AssertUnwindSafe(|| {
            (def.resolve)(cx, recipient.id().to_owned())
        }));
        let outcome = match resolving {
            Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
            Err(panic) => Err(panic),
        };
        outcome.unwrap_or_else(|panic| {
            tracing::error!(
                recipient = recipient.kind(),
                panic = panic_message(&*panic),
                "recipient resolver panicked"
            );
            Err(Problem::recipient_resolution_failed(recipient.kind()))
        })
    }
}
