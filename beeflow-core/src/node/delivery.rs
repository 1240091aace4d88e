//! The one delivery path: every event (a reply, an emit from inside or outside a request,
//! an event for another node) is routed here, serialized once, and queued for this node's
//! connections or handed to the broker for other nodes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use uuid::Uuid;

use super::Node;
use crate::broker::{RemoteDelivery, RemotePart};
use crate::context::ResolveContext;
use crate::envelope::EventFrame;
use crate::event::Emit;
use crate::hub::{DeliveryReport, Hub, Target, Topic};
use crate::outbound::Mailbox;
use crate::problem::{Problem, panic_message};
use crate::recipient::{ConnectionId, GROUP, Recipient, Recipients, USER, WEBSOCKET};

/// Connection ids split by the node that holds them.
#[derive(Default)]
struct SplitByNode {
    local: Vec<ConnectionId>,
    remote: HashMap<Arc<str>, Vec<ConnectionId>>,
    /// Ids no node issued.
    unknown: usize,
}

/// `emit` as `recipient` gets it, serialized once for every connection it reaches.
fn frame(emit: &Emit, recipient: &Recipient, req_id: Option<Uuid>) -> Arc<EventFrame> {
    Arc::new(EventFrame::new(
        req_id,
        emit.event,
        recipient,
        &emit.payload,
        emit.droppable,
    ))
}

/// Whom one recipient of a union reaches.
enum Reach {
    Connections(Vec<ConnectionId>),
    User(Arc<str>),
    Group(Arc<str>),
}

impl Node {
    /// A reply (an `emit` naming no recipient) to the connection `requester` whose queue is
    /// `mailbox`: queued straight into it, with no lookup in the hub's index and no lock of
    /// it, since the requester holds its own queue.
    pub(crate) fn reply(
        &self,
        emit: &Emit,
        req_id: Uuid,
        requester: &ConnectionId,
        mailbox: &Mailbox,
    ) -> DeliveryReport {
        let frame = Arc::new(
            EventFrame::to_recipient(
                Some(req_id),
                emit.event,
                (WEBSOCKET, requester.as_str()),
                &emit.payload,
                emit.droppable,
            )
            .exclusive(),
        );
        let report = Hub::push(Some(mailbox), &frame);
        self.telemetry
            .delivered(emit.event, report.delivered, report.dropped);
        report
    }

    /// Delivers `emit` (addressed to `requester` when it names no recipient).
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        emit: Emit,
        req_id: Option<Uuid>,
        requester: Option<&ConnectionId>,
    ) -> Result<DeliveryReport, Problem> {
        let event = emit.event;
        let recipients = match (&emit.recipients, requester) {
            (Some(recipients), _) => Cow::Borrowed(recipients),
            (None, Some(requester)) => {
                Cow::Owned(Recipients::from(Recipient::connection(requester)))
            }
            (None, None) => return Err(Problem::reply_outside_request(event)),
        };
        let report = match recipients.single() {
            Some(recipient) => {
                self.deliver_one(recipient, &emit, req_id, requester)
                    .await?
            }
            None => {
                self.deliver_union(&recipients, &emit, req_id, requester.is_some())
                    .await?
            }
        };
        self.telemetry
            .delivered(event, report.delivered, report.dropped);
        Ok(report)
    }

    /// The common case: one recipient, nobody left out.
    async fn deliver_one(
        self: &Arc<Self>,
        recipient: &Recipient,
        emit: &Emit,
        req_id: Option<Uuid>,
        requester: Option<&ConnectionId>,
    ) -> Result<DeliveryReport, Problem> {
        let frame = frame(emit, recipient, req_id);
        let report = match recipient.kind() {
            WEBSOCKET => {
                let id = match requester {
                    Some(requester) if requester.as_str() == recipient.id() => requester.clone(),
                    _ => ConnectionId::new(recipient.id()),
                };
                self.to_connections(vec![id], &frame).await
            }
            kind @ (USER | GROUP) => {
                let id: Arc<str> = recipient.id().into();
                let topic = if kind == USER {
                    Topic::User(id)
                } else {
                    Topic::Group(id)
                };
                let origin = self.hub.node_id().clone();
                let delivery = RemoteDelivery::single(topic, Vec::new(), frame, origin);
                self.publish_streams(delivery, requester.is_some()).await
            }
            _ => {
                let ids = self.resolve(recipient).await?;
                self.to_connections(ids, &frame).await
            }
        };
        Ok(report)
    }

    /// Several recipients, or one less a connection: every recipient is resolved first (a
    /// failing resolver delivers nothing), then this node's connections get the event once
    /// each, and one delivery carries all of it to the other nodes.
    async fn deliver_union(
        self: &Arc<Self>,
        recipients: &Recipients,
        emit: &Emit,
        req_id: Option<Uuid>,
        in_request: bool,
    ) -> Result<DeliveryReport, Problem> {
        let mut parts = Vec::new();
        // One event, one id: every recipient's frame carries the same `msg_id` (version 2),
        // so a client reached through two of them can tell it is the same event.
        let id = Uuid::new_v4();
        for recipient in recipients.iter() {
            let frame = Arc::new(
                EventFrame::new(req_id, emit.event, recipient, &emit.payload, emit.droppable)
                    .with_id(id),
            );
            let reach = match recipient.kind() {
                WEBSOCKET => Reach::Connections(vec![ConnectionId::new(recipient.id())]),
                USER => Reach::User(recipient.id().into()),
                GROUP => Reach::Group(recipient.id().into()),
                _ => Reach::Connections(self.resolve(recipient).await?),
            };
            parts.push((reach, frame));
        }
        let node = self.hub.node_id();
        let streams = parts
            .iter()
            .any(|(reach, _)| matches!(reach, Reach::User(_) | Reach::Group(_)));
        let mut report = DeliveryReport::default();
        // What other nodes need, and (beside each part) its connections on this node. With a
        // stream among the parts the broker delivers to this node too, so its connections
        // travel as a part of their own.
        let mut remote = Vec::new();
        let mut here: Vec<Vec<ConnectionId>> = Vec::with_capacity(parts.len());
        for (reach, frame) in &parts {
            let mut local = Vec::new();
            match reach {
                Reach::User(user) => remote.push(RemotePart {
                    topic: Topic::User(user.clone()),
                    connections: Vec::new(),
                    frame: frame.clone(),
                }),
                Reach::Group(group) => remote.push(RemotePart {
                    topic: Topic::Group(group.clone()),
                    connections: Vec::new(),
                    frame: frame.clone(),
                }),
                Reach::Connections(ids) => {
                    let split = self.split_by_node(ids.iter().cloned());
                    report.not_connected += split.unknown;
                    local = split.local;
                    if streams && !local.is_empty() {
                        remote.push(RemotePart {
                            topic: Topic::Node(node.clone()),
                            connections: std::mem::take(&mut local),
                            frame: frame.clone(),
                        });
                    }
                    remote.extend(split.remote.into_iter().map(|(owner, connections)| {
                        RemotePart {
                            topic: Topic::Node(owner),
                            connections,
                            frame: frame.clone(),
                        }
                    }));
                }
            }
            here.push(local);
        }
        let delivery = |parts| RemoteDelivery {
            id: Uuid::new_v4(),
            parts,
            except: recipients.excepted().cloned(),
            origin: node.clone(),
        };
        if streams {
            report.add(self.publish_streams(delivery(remote), in_request).await);
            return Ok(report);
        }
        let targets: Vec<(Target<'_>, &Arc<EventFrame>)> = parts
            .iter()
            .zip(&here)
            .map(|((reach, frame), local)| {
                let target = match reach {
                    Reach::User(user) => Target::User(user),
                    Reach::Group(group) => Target::Group(group),
                    Reach::Connections(_) => Target::Connections(local),
                };
                (target, frame)
            })
            .collect();
        report.add(self.hub.deliver_parts(&[], &targets, recipients.excepted()));
        if !remote.is_empty() {
            report.add(self.publish(delivery(remote)).await);
        }
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
        let split = self.split_by_node(ids);
        let mut report = self.hub.deliver(Target::Connections(&split.local), frame);
        report.not_connected += split.unknown;
        for (node, ids) in split.remote {
            let count = ids.len();
            let published = self.publish_one(Topic::Node(node), ids, frame).await;
            if published.published == 0 && published.lost == 0 {
                // No node by that id took it: those connections do not exist.
                report.not_connected += count;
            }
            report.add(published);
        }
        report
    }

    /// `ids` by the node that holds them.
    fn split_by_node(&self, ids: impl IntoIterator<Item = ConnectionId>) -> SplitByNode {
        let here = self.hub.node_id();
        let mut split = SplitByNode::default();
        for id in ids {
            match Hub::node_of(&id) {
                Some(node) if node == &**here => split.local.push(id),
                Some(node) => split.remote.entry(node.into()).or_default().push(id),
                // Not an id any node issued.
                None => split.unknown += 1,
            }
        }
        split
    }

    /// Publishes `frame` for one topic.
    async fn publish_one(
        &self,
        topic: Topic,
        connections: Vec<ConnectionId>,
        frame: &Arc<EventFrame>,
    ) -> DeliveryReport {
        let origin = self.hub.node_id().clone();
        self.publish(RemoteDelivery::single(
            topic,
            connections,
            frame.clone(),
            origin,
        ))
        .await
    }

    /// Hands a delivery with a user or group part to the broker, which positions it and
    /// delivers it to every node, this one included. Inside a request (`in_request`) it
    /// resolves once this node's connections have it, so the request completes after them.
    async fn publish_streams(&self, delivery: RemoteDelivery, in_request: bool) -> DeliveryReport {
        let published = self
            .broker
            .publish_streams(delivery, self.limits.history(), in_request)
            .await;
        let mut report = published.local;
        match published.published {
            Ok(nodes) => {
                report.published += nodes;
                self.telemetry.published(true);
            }
            Err(error) => {
                tracing::warn!(%error, "a delivery for other nodes was lost");
                report.lost += 1;
                self.telemetry.published(false);
            }
        }
        report
    }

    async fn publish(&self, delivery: RemoteDelivery) -> DeliveryReport {
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

    /// Whether an event to `recipient` reaches `connection` (one of this node's).
    #[cfg(feature = "sync")]
    pub(crate) async fn reaches_connection(
        self: &Arc<Self>,
        recipient: &Recipient,
        connection: &crate::context::ConnectionInfo,
    ) -> Result<bool, Problem> {
        let id = &connection.id;
        Ok(match recipient.kind() {
            WEBSOCKET => recipient.id() == id.as_str(),
            USER => connection.user_id() == Some(recipient.id()),
            GROUP => self
                .hub
                .local_connections(Target::Group(recipient.id()))
                .contains(id),
            _ => self.resolve(recipient).await?.contains(id),
        })
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
