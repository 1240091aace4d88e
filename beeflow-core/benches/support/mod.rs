//! What the in-memory delivery benchmarks share.

use std::hint::black_box;

use beeflow_core::testing::TestClient;
use beeflow_core::transport::Outgoing;
use beeflow_core::{Dispatcher, Event, Recipient};
use futures_util::FutureExt;

/// Pushes `event` to `group` and renders every member's frame.
pub(crate) fn push_and_drain<E: Event>(
    dispatcher: &Dispatcher,
    group: &'static str,
    event: &E,
    members: &mut [TestClient],
) {
    let report = dispatcher
        .emit(Recipient::group(group), event)
        .now_or_never()
        .expect("in-memory delivery completes at once")
        .expect("deliverable");
    assert_eq!(report.delivered, members.len());
    for member in members.iter_mut() {
        match member.try_recv_frame() {
            Some(Outgoing::Text(text)) => {
                black_box(text);
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// The median of `samples`.
pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
