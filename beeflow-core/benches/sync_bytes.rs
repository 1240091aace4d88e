//! Bytes on the wire for synced state: 1,000 small edits to a 50 KB document, sent as the
//! patches `Synced` publishes, against the same edits sent as whole snapshots, in the same
//! run. Counted as the text frames a subscribed version-2 connection receives (in memory,
//! no sockets: WebSocket framing adds 2–14 bytes per frame to both).
//!
//! Run with `cargo bench -p beeflow-core --features sync --bench sync_bytes`. Prints both
//! totals and their ratio.

use std::collections::BTreeMap;

use beeflow_core::testing::TestClient;
use beeflow_core::transport::{Admission, Outgoing};
use beeflow_core::{Dispatcher, RateLimits, Recipient, SubscriptionRequest, Synced};
use serde_json::json;

const EDITS: usize = 1_000;
const ENTRIES: usize = 500;

/// About 50 KB of JSON: 500 entries of a 90-character text.
fn document() -> BTreeMap<String, String> {
    (0..ENTRIES)
        .map(|i| {
            (
                format!("entry-{i:03}"),
                format!("{i:03} {}", "lorem ipsum dolor ".repeat(5)),
            )
        })
        .collect()
}

/// Total bytes of the text frames queued for `client` now.
fn drained_bytes(client: &mut TestClient) -> usize {
    std::iter::from_fn(|| client.try_recv_frame())
        .map(|frame| match frame {
            Outgoing::Text(text) => text.len(),
            _ => 0,
        })
        .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dispatcher = Dispatcher::builder()
        .authorize_subscriptions(|_: &SubscriptionRequest<'_>| true)
        // A thousand `beeflow.state.get` in a row, only to measure the snapshots' size.
        .rate_limits(RateLimits::off())
        .build()
        .expect("dispatcher");
    let mut client = TestClient::admitted(&dispatcher, &Admission::guest().v2());
    client
        .send("beeflow.subscribe", json!({"topic": "doc"}))
        .await;
    let initial = document();
    let size = serde_json::to_string(&initial).expect("serializes").len();
    let mut doc =
        Synced::new(&dispatcher, "doc", Recipient::group("doc"), initial).expect("synced");
    let (mut patch_bytes, mut snapshot_bytes) = (0, 0);
    for edit in 0..EDITS {
        // A small edit: one entry's first word changes.
        let key = format!("entry-{:03}", (edit * 7) % ENTRIES);
        let text = format!("{edit:04} edited");
        doc.get_mut(&key).expect("entry").replace_range(0..3, &text);
        doc.flush().await.expect("published");
        patch_bytes += drained_bytes(&mut client);

        // The same edit, sent whole: the snapshot frame of the state it made.
        let frames = client
            .send("beeflow.state.get", json!({"key": "doc"}))
            .await;
        assert_eq!(frames[0]["event"], "beeflow.state.snapshot");
        snapshot_bytes += serde_json::to_string(&frames[0]).expect("serializes").len();
    }
    println!("document: {size} bytes of JSON, {ENTRIES} entries; {EDITS} edits of one entry each");
    println!(
        "as patches:   {patch_bytes:>11} bytes ({} per edit)",
        patch_bytes / EDITS
    );
    println!(
        "as snapshots: {snapshot_bytes:>11} bytes ({} per edit)",
        snapshot_bytes / EDITS
    );
    println!(
        "patches / snapshots: {:.4} ({:.0}x fewer bytes)",
        patch_bytes as f64 / snapshot_bytes as f64,
        snapshot_bytes as f64 / patch_bytes as f64
    );
}
