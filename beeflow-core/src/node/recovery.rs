//! Recovery (`docs/protocol.md` §6.4): a connection gets what it missed of a stream, in
//! offset order, before any newer event of it, each event once.
//!
//! The connection's queue holds the stream's live events back from before the history is
//! read until the replay is queued; then the replay goes first, and the held events follow
//! without those the replay already had. Nothing published meanwhile is lost or doubled,
//! whether it reached this node before or after the history was read.

use super::Node;
use crate::context::ConnectionInfo;
use crate::hub::Topic;
use crate::problem::Problem;

impl Node {
    /// Replays what `connection` missed of `stream` since `(epoch, offset)`. `join` runs
    /// once the stream's live events are held back (to subscribe the connection). Resolves
    /// to whether every missed event was replayed; when not, none is.
    pub(crate) async fn recover(
        &self,
        connection: &ConnectionInfo,
        stream: Topic,
        (epoch, offset): (String, u64),
        join: impl FnOnce() -> Result<(), Problem>,
    ) -> Result<bool, Problem> {
        let key = stream
            .stream()
            .expect("recovery is for user and group streams");
        let mailbox = self
            .hub
            .mailbox(&connection.id)
            .ok_or_else(|| Problem::connection_not_found(connection.id.as_str()))?;
        mailbox.begin_recovery(&key);
        if let Err(problem) = join() {
            mailbox.end_recovery(&[]);
            return Err(problem);
        }
        // Live events must reach this node before the history is read, or one published in
        // between would be in neither.
        if !self.broker.subscribed(self.hub.node_id(), &stream).await {
            tracing::warn!(
                stream = &*key,
                "the broker did not subscribe in time; not recovered"
            );
            mailbox.end_recovery(&[]);
            return Ok(false);
        }
        let limit = self.limits.max_recovery();
        let read = self
            .broker
            .history(&stream, offset, limit, self.limits.history())
            .await;
        let replay = match read {
            Ok(Some(read)) if *read.epoch == *epoch => read.events,
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, stream = &*key, "history could not be read; not recovered");
                None
            }
        };
        mailbox.end_recovery(replay.as_deref().unwrap_or_default());
        Ok(replay.is_some())
    }
}
