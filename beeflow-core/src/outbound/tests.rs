use super::*;

fn mailbox(frames: usize) -> Arc<Mailbox> {
    Arc::new(Mailbox::new(
        Bounds {
            frames,
            bytes: 1 << 20,
            policy: SlowConsumer::Close,
        },
        1,
    ))
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    futures_util::FutureExt::now_or_never(f).expect("ready without waiting")
}

#[test]
fn a_closed_queue_drains_then_ends() {
    let mailbox = mailbox(4);
    let mut outbound = OutboundQueue::new(mailbox.clone(), 1);
    assert!(matches!(
        mailbox.push(Queued::Text("a".into())),
        Push::Queued
    ));
    mailbox.close();
    assert!(matches!(
        mailbox.push(Queued::Text("b".into())),
        Push::Closed
    ));
    assert_eq!(block(outbound.recv()), Some(Outgoing::Text("a".into())));
    assert_eq!(block(outbound.recv()), None);
}

#[test]
fn an_empty_open_queue_waits() {
    let mailbox = mailbox(4);
    let mut outbound = OutboundQueue::new(mailbox.clone(), 1);
    assert!(futures_util::FutureExt::now_or_never(outbound.recv()).is_none());
    assert_eq!(outbound.try_recv(), None);
    assert!(mailbox.offer(Queued::Ping));
    assert_eq!(block(outbound.recv()), Some(Outgoing::Ping));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_writer_is_woken_by_the_next_push() {
    let mailbox = mailbox(4);
    let mut outbound = OutboundQueue::new(mailbox.clone(), 1);
    let writer = tokio::spawn(async move { outbound.recv().await });
    // Let the writer find the queue empty and wait (it may also still be on its way:
    // either order must work).
    tokio::task::yield_now().await;
    assert!(matches!(
        mailbox.push(Queued::Text("late".into())),
        Push::Queued
    ));
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
        .await
        .expect("the writer was woken")
        .unwrap();
    assert_eq!(frame, Some(Outgoing::Text("late".into())));
}

#[test]
fn overflow_frees_the_queue_and_closes_once() {
    let mailbox = mailbox(1);
    let mut outbound = OutboundQueue::new(mailbox.clone(), 1);
    assert!(matches!(
        mailbox.push(Queued::Text("a".into())),
        Push::Queued
    ));
    assert!(matches!(mailbox.push(Queued::Text("b".into())), Push::Full));
    assert!(matches!(mailbox.push(Queued::Text("c".into())), Push::Full));
    assert_eq!(
        block(outbound.recv()),
        Some(Outgoing::Close(CloseReason::SLOW_CONSUMER))
    );
    assert_eq!(block(outbound.recv()), None);
}

fn at(epoch: &str, offset: u64) -> Arc<EventFrame> {
    let frame = EventFrame::new(
        None,
        "e",
        &crate::recipient::Recipient::group("g"),
        "{}",
        false,
    );
    Arc::new(frame.positioned(crate::envelope::Position {
        stream: "group:g".into(),
        offset,
        epoch: epoch.into(),
    }))
}

/// The (epoch, offset) of every frame queued, in order.
fn positions(outbound: &mut OutboundQueue) -> Vec<(String, u64)> {
    let mut seen = Vec::new();
    while let Some(Outgoing::Text(text)) = outbound.try_recv() {
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
        seen.push((
            frame["epoch"].as_str().unwrap().to_owned(),
            frame["offset"].as_u64().unwrap(),
        ));
    }
    seen
}

#[test]
fn a_recovery_replays_what_was_missed_once_and_keeps_a_new_epoch_apart() {
    let mailbox = Arc::new(Mailbox::new(
        Bounds {
            frames: 64,
            bytes: 1 << 20,
            policy: SlowConsumer::Close,
        },
        2,
    ));
    let mut outbound = OutboundQueue::new(mailbox.clone(), 2);
    let stream: Arc<str> = "group:g".into();
    // Received live before recovering: e1 from offset 5.
    mailbox.push(Queued::Event(at("e1", 5)));
    mailbox.begin_recovery(&stream);
    // Held back meanwhile: one the replay has, and the stream restarted under e2.
    mailbox.push(Queued::Event(at("e1", 4)));
    mailbox.push(Queued::Event(at("e2", 1)));
    mailbox.end_recovery(&[at("e1", 3), at("e1", 4), at("e1", 5), at("e1", 6)]);
    // Delivered live after the replay, already replayed: dropped.
    mailbox.push(Queued::Event(at("e1", 4)));
    mailbox.push(Queued::Event(at("e2", 2)));
    let expected: Vec<(String, u64)> = [("e1", 5), ("e1", 3), ("e1", 4), ("e2", 1), ("e2", 2)]
        .into_iter()
        .map(|(epoch, offset)| (epoch.to_owned(), offset))
        .collect();
    assert_eq!(positions(&mut outbound), expected);
}
