//! The built-ins of protocol version 2 (`docs/protocol.md` §6.3–§6.5): actions
//! `beeflow.subscribe`, `beeflow.unsubscribe`, `beeflow.presence` and `beeflow.recover`,
//! and events `beeflow.presence`, `beeflow.join` and `beeflow.leave`. A version-1 connection does not
//! see them: to it they are unknown actions, as they are to the Python reference.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::action::{ActionDef, Events, HandlerFuture, IntoEvents, Replies, decode_payload};
use crate::context::ActionContext;
use crate::event::{Event, EventDef};
use crate::hub::Topic;
use crate::location::Location;
use crate::pattern::TopicPattern;
use crate::presence::{Presence, PresenceNotice};
use crate::problem::Problem;

/// The `beeflow.presence` event. A type of its own, private, so that the public
/// [`Presence`] is not an `Event` (compiler errors would offer it to every handler).
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(transparent)]
struct PresenceEvent(Presence);

impl Event for PresenceEvent {
    const NAME: &'static str = "beeflow.presence";
}

/// The payload of `beeflow.subscribe`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BeeflowSubscribe")]
struct Subscribe {
    /// A group name, or a pattern of them: tokens separated by `.`, where `*` stands for one
    /// token and a last `>` for one or more. 1 to 255 bytes.
    topic: String,
    /// Also send who is in the group now (event `beeflow.presence`, before the completion)
    /// and, from then on, `beeflow.join` and `beeflow.leave`. Exact topics only.
    #[serde(default)]
    presence: bool,
    /// First replay every event of the group after this position, then complete with
    /// `recovered`. Exact topics only.
    #[serde(default)]
    since: Option<Since>,
}

/// A position in a stream, as the client last saw it: the `epoch` and `offset` members of
/// its last event.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BeeflowSince")]
struct Since {
    /// The stream's epoch.
    epoch: String,
    /// The last offset received.
    offset: u64,
}

/// The payload of `beeflow.recover`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BeeflowRecover")]
struct Recover {
    /// The last position received of this connection's own user stream.
    since: Since,
}

/// The payload of `beeflow.unsubscribe` and `beeflow.presence`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BeeflowTopic")]
struct TopicOnly {
    /// The topic, as subscribed (for `beeflow.presence`: an exact group name).
    topic: String,
}

/// The problems a topic the client sent can get.
const TOPIC_PROBLEMS: &[&str] = &["invalid_topic", "subscription_denied"];

fn parse(topic: &str) -> Result<TopicPattern, Problem> {
    TopicPattern::parse(topic)
        .map_err(|invalid| Problem::invalid_topic(topic, &invalid.to_string()))
}

/// `topic`, which must name one group: presence and history are kept per group.
fn exact(topic: &str) -> Result<TopicPattern, Problem> {
    let topic = parse(topic)?;
    if topic.is_pattern() {
        return Err(Problem::invalid_topic(
            topic.as_str(),
            "presence and history are kept per group, so this needs an exact topic, not a pattern",
        ));
    }
    Ok(topic)
}

fn subscribe(cx: ActionContext, payload: &str) -> Result<HandlerFuture, Problem> {
    let request: Subscribe = decode_payload(SUBSCRIBE.name, payload)?;
    let presence = request.presence;
    let topic = if presence || request.since.is_some() {
        exact(&request.topic)?
    } else {
        parse(&request.topic)?
    };
    let Some(since) = request.since else {
        let new = cx.runtime.subscribe(&cx.connection, &topic, presence)?;
        if !presence {
            return Ok(Box::pin(async { ().into_events() }));
        }
        return Ok(Box::pin(
            async move { snapshot_or_undo(&cx, &topic, new).await },
        ));
    };
    // The subscription (and so the application's hook) runs inside the recovery, once the
    // stream's live events are held back; a refusal replays nothing.
    Ok(Box::pin(async move {
        let stream = Topic::Group(topic.text().clone());
        let (runtime, connection) = (cx.runtime.clone(), cx.connection.clone());
        let new = Arc::new(AtomicBool::new(false));
        let (joining, joined) = (topic.clone(), new.clone());
        let join = Box::new(move || {
            let new = runtime.subscribe(&connection, &joining, presence)?;
            joined.store(new, Ordering::Relaxed);
            Ok(())
        });
        let recovered = cx
            .runtime
            .clone()
            .recover(
                cx.connection.clone(),
                stream.clone(),
                (since.epoch, since.offset),
                join,
            )
            .await?;
        if let Some(completion) = &cx.completion {
            completion.set_recovered(recovered);
        }
        if !presence {
            return ().into_events();
        }
        snapshot_or_undo(&cx, &topic, new.load(Ordering::Relaxed)).await
    }))
}

/// The presence snapshot a subscription with `presence` answers with. Without one (the
/// broker cannot count) the request fails, and a subscription it made (`new`) is undone:
/// a failed request leaves nothing behind.
async fn snapshot_or_undo(
    cx: &ActionContext,
    topic: &TopicPattern,
    new: bool,
) -> Result<Events, Problem> {
    match cx.runtime.clone().presence(topic.as_str().to_owned()).await {
        Ok(snapshot) => PresenceEvent(snapshot).into_events(),
        Err(problem) => {
            if new {
                cx.runtime.unsubscribe(&cx.connection.id, topic.as_str())?;
            }
            Err(problem)
        }
    }
}

fn recover(cx: ActionContext, payload: &str) -> Result<HandlerFuture, Problem> {
    let request: Recover = decode_payload(RECOVER.name, payload)?;
    let Some(user) = cx.connection.user_id() else {
        return Err(Problem::unauthenticated()
            .with_detail("Only an authenticated connection has a user stream to recover."));
    };
    let stream = Topic::User(user.into());
    Ok(Box::pin(async move {
        let since = (request.since.epoch, request.since.offset);
        let already = Box::new(|| Ok(()));
        let recovered = cx
            .runtime
            .clone()
            .recover(cx.connection.clone(), stream, since, already)
            .await?;
        if let Some(completion) = &cx.completion {
            completion.set_recovered(recovered);
        }
        ().into_events()
    }))
}

fn unsubscribe(cx: ActionContext, payload: &str) -> Result<HandlerFuture, Problem> {
    let request: TopicOnly = decode_payload(UNSUBSCRIBE.name, payload)?;
    let topic = parse(&request.topic)?;
    cx.runtime.unsubscribe(&cx.connection.id, topic.as_str())?;
    Ok(Box::pin(async { ().into_events() }))
}

fn presence(cx: ActionContext, payload: &str) -> Result<HandlerFuture, Problem> {
    let request: TopicOnly = decode_payload(PRESENCE.name, payload)?;
    let topic = exact(&request.topic)?;
    cx.runtime.authorize(&cx.connection, &topic, true)?;
    let runtime = cx.runtime.clone();
    Ok(Box::pin(async move {
        let snapshot = runtime.presence(topic.as_str().to_owned()).await?;
        PresenceEvent(snapshot).into_events()
    }))
}

fn subscribe_replies() -> Replies {
    let mut replies = Replies::default();
    replies.event(PresenceEvent::NAME);
    replies.problems(TOPIC_PROBLEMS);
    replies.problems(&["too_many_subscriptions", "presence_unavailable"]);
    replies
}

fn recover_replies() -> Replies {
    let mut replies = Replies::default();
    replies.problems(&["unauthenticated"]);
    replies
}

fn unsubscribe_replies() -> Replies {
    let mut replies = Replies::default();
    replies.problems(&["invalid_topic"]);
    replies
}

fn presence_replies() -> Replies {
    let mut replies = Replies::default();
    replies.event(PresenceEvent::NAME);
    replies.problems(TOPIC_PROBLEMS);
    replies.problems(&["presence_unavailable"]);
    replies
}

pub(crate) const SUBSCRIBE: ActionDef = ActionDef::new(
    "beeflow.subscribe",
    subscribe,
    "Subscribe",
    |generator| generator.subschema_for::<Subscribe>(),
    "Version 2: receive every event addressed to a group the topic matches, until \
     `beeflow.unsubscribe` or the connection ends; with `since`, first what was missed. \
     The application's hook decides who may.",
    Location::new(module_path!(), file!(), line!()),
)
.with_replies(subscribe_replies);

pub(crate) const UNSUBSCRIBE: ActionDef = ActionDef::new(
    "beeflow.unsubscribe",
    unsubscribe,
    "Unsubscribe",
    |generator| generator.subschema_for::<TopicOnly>(),
    "Version 2: ends the subscription to the topic (the same string it subscribed with); \
     nothing happens if there is none.",
    Location::new(module_path!(), file!(), line!()),
)
.with_replies(unsubscribe_replies);

pub(crate) const PRESENCE: ActionDef = ActionDef::new(
    "beeflow.presence",
    presence,
    "Presence",
    |generator| generator.subschema_for::<TopicOnly>(),
    "Version 2: answers with event `beeflow.presence`, who is in the group on every node. \
     Allowed by the same hook as subscribing.",
    Location::new(module_path!(), file!(), line!()),
)
.with_replies(presence_replies);

pub(crate) const RECOVER: ActionDef = ActionDef::new(
    "beeflow.recover",
    recover,
    "Recover",
    |generator| generator.subschema_for::<Recover>(),
    "Version 2: replays the events of this connection's user stream after `since`, then \
     completes with `recovered`. Authenticated connections only.",
    Location::new(module_path!(), file!(), line!()),
)
.with_replies(recover_replies);

pub(crate) const PRESENCE_EVENT: EventDef = EventDef::new(
    PresenceEvent::NAME,
    "beeflow_core::Presence",
    |generator| generator.subschema_for::<Presence>(),
    Location::new(module_path!(), file!(), line!()),
);

pub(crate) const JOIN_EVENT: EventDef = EventDef::new(
    "beeflow.join",
    "beeflow_core::PresenceNotice",
    |generator| generator.subschema_for::<PresenceNotice>(),
    Location::new(module_path!(), file!(), line!()),
);

pub(crate) const LEAVE_EVENT: EventDef = EventDef::new(
    "beeflow.leave",
    "beeflow_core::PresenceNotice",
    |generator| generator.subschema_for::<PresenceNotice>(),
    Location::new(module_path!(), file!(), line!()),
);

inventory::submit!(SUBSCRIBE);
inventory::submit!(UNSUBSCRIBE);
inventory::submit!(PRESENCE);
inventory::submit!(RECOVER);
inventory::submit!(PRESENCE_EVENT);
inventory::submit!(JOIN_EVENT);
inventory::submit!(LEAVE_EVENT);
