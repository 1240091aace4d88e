use super::*;
use crate::envelope::EventFrame;
use crate::limits::SlowConsumer;
use crate::outbound::{CloseReason, Outgoing};
use crate::outbound::{Push, Queued};
use crate::recipient::Recipient;

fn bounds(frames: usize) -> Bounds {
    Bounds {
        frames,
        bytes: 1 << 20,
        policy: SlowConsumer::Close,
    }
}

/// Records what the hub told the broker: topics needed, and memberships.
#[derive(Default)]
struct Heard {
    interest: std::cell::RefCell<Vec<(Topic, bool)>>,
    memberships: std::cell::RefCell<Vec<(String, Option<String>, bool)>>,
}

impl Heard {
    fn record(&self, change: Change) {
        match change {
            Change::Interest(topic, needed) => self.interest.borrow_mut().push((topic, needed)),
            Change::Membership {
                group,
                user,
                entered,
            } => self.memberships.borrow_mut().push((
                group.to_string(),
                user.map(|u| u.to_string()),
                entered,
            )),
        }
    }

    fn take(&self) -> Vec<(Topic, bool)> {
        std::mem::take(&mut self.interest.borrow_mut())
    }

    fn memberships(&self) -> Vec<(String, Option<String>, bool)> {
        std::mem::take(&mut self.memberships.borrow_mut())
    }
}

fn ignore(_: Change) {}

fn frame(droppable: bool) -> Arc<EventFrame> {
    Arc::new(EventFrame::new(
        None,
        "e",
        &Recipient::new("group", "g"),
        "{}",
        droppable,
    ))
}

fn seq(frame: Option<Outgoing>) -> Option<u64> {
    match frame {
        Some(Outgoing::Text(t)) => {
            serde_json::from_str::<serde_json::Value>(&t).unwrap()["seq"].as_u64()
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn seq_counts_events_only_and_overflow_closes() {
    let hub = Hub::new();
    let (id, mailbox, mut outbound) = hub
        .connect(bounds(2), None, 1, Capacity::default(), &ignore)
        .unwrap();
    let ids = std::slice::from_ref(&id);
    assert_eq!(
        hub.deliver(Target::Connections(ids), &frame(false))
            .delivered,
        1
    );
    assert!(matches!(
        mailbox.push(Queued::Text("problem".into())),
        Push::Queued
    ));
    assert_eq!(seq(outbound.try_recv()), Some(1));
    assert_eq!(outbound.try_recv(), Some(Outgoing::Text("problem".into())));
    for _ in 0..2 {
        assert_eq!(
            hub.deliver(Target::Connections(ids), &frame(false))
                .delivered,
            1
        );
    }
    assert_eq!(
        hub.deliver(Target::Connections(ids), &frame(false)).dropped,
        1
    );
    assert_eq!(
        outbound.try_recv(),
        Some(Outgoing::Close(CloseReason::SLOW_CONSUMER))
    );
    assert_eq!(outbound.try_recv(), None, "nothing follows the close");
}

#[test]
fn droppable_events_are_dropped_without_closing_when_the_policy_allows() {
    let hub = Hub::new();
    let policy = Bounds {
        policy: SlowConsumer::DropDroppable,
        ..bounds(1)
    };
    let (id, _mailbox, mut outbound) = hub
        .connect(policy, None, 1, Capacity::default(), &ignore)
        .unwrap();
    let ids = std::slice::from_ref(&id);
    assert_eq!(
        hub.deliver(Target::Connections(ids), &frame(true))
            .delivered,
        1
    );
    assert_eq!(
        hub.deliver(Target::Connections(ids), &frame(true)).dropped,
        1
    );
    assert_eq!(seq(outbound.try_recv()), Some(1));
    assert_eq!(
        outbound.try_recv(),
        None,
        "the dropped event never got a seq"
    );
    assert_eq!(
        hub.deliver(Target::Connections(ids), &frame(false))
            .delivered,
        1
    );
    assert_eq!(seq(outbound.try_recv()), Some(2), "still gap-free");
    // A non-droppable event that does not fit still closes the connection.
    hub.deliver(Target::Connections(ids), &frame(false));
    hub.deliver(Target::Connections(ids), &frame(false));
    assert_eq!(
        outbound.try_recv(),
        Some(Outgoing::Close(CloseReason::SLOW_CONSUMER))
    );
}

#[test]
fn the_byte_bound_applies_but_one_big_frame_passes_an_empty_queue() {
    let hub = Hub::new();
    let small = Bounds {
        bytes: 100,
        ..bounds(1000)
    };
    let (id, _mailbox, mut outbound) = hub
        .connect(small, None, 1, Capacity::default(), &ignore)
        .unwrap();
    let ids = std::slice::from_ref(&id);
    let big = Arc::new(EventFrame::new(
        None,
        "e",
        &Recipient::new("user", "u"),
        &format!("{{\"x\":\"{}\"}}", "y".repeat(500)),
        false,
    ));
    assert_eq!(hub.deliver(Target::Connections(ids), &big).delivered, 1);
    assert_eq!(
        hub.deliver(Target::Connections(ids), &frame(false)).dropped,
        1
    );
    assert_eq!(
        outbound.try_recv(),
        Some(Outgoing::Close(CloseReason::SLOW_CONSUMER))
    );
}

#[test]
fn users_and_groups_reach_every_local_member_once() {
    let hub = Hub::new();
    let heard = Heard::default();
    let tell = |change| heard.record(change);
    let ada: Arc<str> = "ada".into();
    let (a1, _, mut o1) = hub
        .connect(bounds(8), Some(ada.clone()), 1, Capacity::default(), &tell)
        .unwrap();
    assert_eq!(heard.take(), [(Topic::User(ada.clone()), true)]);
    let (_a2, _, mut o2) = hub
        .connect(bounds(8), Some(ada), 1, Capacity::default(), &tell)
        .unwrap();
    assert!(heard.take().is_empty(), "the topic is already needed");
    let (b, _, mut ob) = hub
        .connect(bounds(8), Some("bob".into()), 1, Capacity::default(), &tell)
        .unwrap();
    heard.take();
    let report = hub.deliver(Target::User("ada"), &frame(false));
    assert_eq!(report.delivered, 2);
    assert!(o1.try_recv().is_some() && o2.try_recv().is_some());
    assert_eq!(ob.try_recv(), None);

    let room: Arc<str> = "room".into();
    hub.join(&a1, &room, &tell).unwrap();
    assert_eq!(heard.take(), [(Topic::Group(room.clone()), true)]);
    hub.join(&b, &room, &tell).unwrap();
    hub.join(&b, &room, &tell).unwrap();
    assert!(heard.take().is_empty(), "joining twice is a no-op");
    assert_eq!(
        hub.deliver(Target::Group("room"), &frame(false)).delivered,
        2
    );
    hub.leave(&b, "room", &tell).unwrap();
    assert_eq!(
        hub.deliver(Target::Group("room"), &frame(false)).delivered,
        1
    );
    assert!(heard.take().is_empty());
    hub.leave(&a1, "room", &tell).unwrap();
    assert_eq!(heard.take(), [(Topic::Group(room), false)]);
    let elsewhere = ConnectionId::new("elsewhere.1");
    assert_eq!(hub.join(&elsewhere, &"x".into(), &tell), Err(NotLocal));
}

#[test]
fn disconnect_cleans_every_index_and_reports_unneeded_topics() {
    let hub = Hub::new();
    let heard = Heard::default();
    let tell = |change| heard.record(change);
    let user: Arc<str> = "ada".into();
    let group: Arc<str> = "room".into();
    let (id, _, _o) = hub
        .connect(bounds(8), Some(user.clone()), 1, Capacity::default(), &tell)
        .unwrap();
    hub.join(&id, &group, &tell).unwrap();
    heard.take();
    hub.disconnect(&id, &tell);
    let mut unneeded = heard.take();
    unneeded.sort_by_key(|(t, _)| format!("{t:?}"));
    assert_eq!(
        unneeded,
        [(Topic::Group(group), false), (Topic::User(user), false)]
    );
    assert_eq!(hub.stats(), NodeStats::default());
    assert!(hub.topics().is_empty());
}

#[test]
fn unknown_and_disconnected_connections_are_reported() {
    let hub = Hub::new();
    let (id, _mailbox, _outbound) = hub
        .connect(bounds(4), None, 1, Capacity::default(), &ignore)
        .unwrap();
    hub.disconnect(&id, &ignore);
    let ids = [id, ConnectionId::new("elsewhere.1")];
    let report = hub.deliver(Target::Connections(&ids), &frame(false));
    assert_eq!(report.not_connected, 2);
    assert_eq!(hub.stats().connections, 0);
}

#[test]
fn connection_ids_name_their_node() {
    let hub = Hub::new();
    let (id, _, _o) = hub
        .connect(bounds(1), None, 1, Capacity::default(), &ignore)
        .unwrap();
    assert_eq!(Hub::node_of(&id), Some(&**hub.node_id()));
}

#[test]
fn connections_beyond_capacity_are_refused_without_a_trace() {
    let hub = Hub::new();
    let capacity = Capacity {
        per_node: Some(3),
        per_user: Some(2),
    };
    let ada: Arc<str> = "ada".into();
    let connect = |user: Option<&Arc<str>>| {
        hub.connect(bounds(4), user.cloned(), 1, capacity, &ignore)
            .map(|(id, _, _)| id)
    };
    let first = connect(Some(&ada)).unwrap();
    connect(Some(&ada)).unwrap();
    assert_eq!(connect(Some(&ada)).unwrap_err(), Full::User);
    connect(None).unwrap();
    assert_eq!(connect(None).unwrap_err(), Full::Node);
    assert_eq!(hub.stats().connections, 3);
    hub.disconnect(&first, &ignore);
    connect(Some(&ada)).unwrap();
}

fn pattern(text: &str) -> crate::pattern::TopicPattern {
    crate::pattern::TopicPattern::parse(text).unwrap()
}

#[test]
fn joining_and_subscribing_to_one_group_is_one_membership() {
    let hub = Hub::new();
    let heard = Heard::default();
    let tell = |change| heard.record(change);
    let (id, _, mut out) = hub
        .connect(bounds(8), Some("ada".into()), 1, Capacity::default(), &tell)
        .unwrap();
    heard.take();
    let room: Arc<str> = "room".into();
    hub.join(&id, &room, &tell).unwrap();
    hub.subscribe(&id, &pattern("room"), false, 8, &tell)
        .unwrap();
    let entered = ("room".to_owned(), Some("ada".to_owned()), true);
    assert_eq!(heard.memberships(), [entered]);
    assert_eq!(heard.take(), [(Topic::Group(room.clone()), true)]);
    assert_eq!(
        hub.deliver(Target::Group("room"), &frame(false)).delivered,
        1
    );
    assert!(out.try_recv().is_some());

    hub.leave(&id, "room", &tell).unwrap();
    assert!(heard.memberships().is_empty(), "still subscribed");
    assert_eq!(hub.unsubscribe(&id, "room", &tell), Ok(true));
    let left = ("room".to_owned(), Some("ada".to_owned()), false);
    assert_eq!(heard.memberships(), [left]);
    assert_eq!(heard.take(), [(Topic::Group(room), false)]);
    assert_eq!(hub.unsubscribe(&id, "room", &tell), Ok(false));
}

#[test]
fn patterns_and_presence_watchers_are_topics_until_their_last_subscriber_goes() {
    let hub = Hub::new();
    let heard = Heard::default();
    let tell = |change| heard.record(change);
    let (a, _, mut out_a) = hub
        .connect(bounds(8), None, 1, Capacity::default(), &tell)
        .unwrap();
    let (b, _, _out_b) = hub
        .connect(bounds(8), None, 1, Capacity::default(), &tell)
        .unwrap();
    hub.subscribe(&a, &pattern("room.*"), false, 8, &tell)
        .unwrap();
    hub.subscribe(&b, &pattern("room.*"), false, 8, &tell)
        .unwrap();
    hub.subscribe(&b, &pattern("lobby"), true, 8, &tell)
        .unwrap();
    let mut needed = heard.take();
    needed.sort_by_key(|(t, _)| format!("{t:?}"));
    assert_eq!(
        needed,
        [
            (Topic::Group("lobby".into()), true),
            (Topic::Pattern("room.*".into()), true),
            (Topic::Presence("lobby".into()), true),
        ]
    );
    assert_eq!(
        hub.deliver(Target::Group("room.1"), &frame(false))
            .delivered,
        2
    );
    assert!(out_a.try_recv().is_some());
    assert_eq!(
        hub.deliver(Target::Presence("lobby"), &frame(false))
            .delivered,
        1
    );
    assert_eq!(
        hub.subscribe(&a, &pattern("x"), false, 1, &tell),
        Err(Refused::TooMany)
    );
    hub.disconnect(&a, &tell);
    assert!(heard.take().is_empty(), "b still needs room.*");
    hub.disconnect(&b, &tell);
    let mut unneeded = heard.take();
    unneeded.sort_by_key(|(t, _)| format!("{t:?}"));
    assert_eq!(
        unneeded,
        [
            (Topic::Group("lobby".into()), false),
            (Topic::Pattern("room.*".into()), false),
            (Topic::Presence("lobby".into()), false),
        ]
    );
    assert!(hub.topics().is_empty());
}
