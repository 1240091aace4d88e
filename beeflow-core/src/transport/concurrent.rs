//! The requests of `#[action(concurrent)]` actions one connection has running: polled in
//! the connection's task, beside whatever the loop is waiting for, and dropped with it.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::{BoxFuture, Either, select};
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};

use crate::node::{Node, Phase};

/// The running requests. Nothing is allocated until the first one starts, so an idle
/// connection pays nothing for it.
pub(super) struct Running<'a> {
    requests: Option<FuturesUnordered<BoxFuture<'static, ()>>>,
    /// How many run now, for the shutdown watch (which runs in another future of the task).
    count: &'a AtomicUsize,
}

impl<'a> Running<'a> {
    pub(super) fn new(count: &'a AtomicUsize) -> Self {
        Self {
            requests: None,
            count,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn len(&self) -> usize {
        self.requests.as_ref().map_or(0, FuturesUnordered::len)
    }

    pub(super) fn push(&mut self, request: BoxFuture<'static, ()>) {
        self.requests
            .get_or_insert_with(FuturesUnordered::new)
            .push(request);
        self.count.store(self.len(), Ordering::Release);
    }

    /// Resolves when one running request finishes; never while none runs.
    pub(super) async fn one_finished(&mut self) {
        match &mut self.requests {
            Some(requests) if !requests.is_empty() => {
                requests.next().await;
                self.count.store(requests.len(), Ordering::Release);
            }
            _ => std::future::pending().await,
        }
    }

    /// Runs `future` to its end while the running requests go on.
    pub(super) async fn alongside<F: Future>(&mut self, future: F) -> F::Output {
        let mut future = pin!(future);
        loop {
            if self.is_empty() {
                return future.await;
            }
            match select(future.as_mut(), pin!(self.one_finished())).await {
                Either::Left((output, _)) => return output,
                Either::Right(((), _)) => {}
            }
        }
    }

    /// The next frame from `stream`, while the running requests go on; `None` once the
    /// last of them finished while `node` shuts down (the connection closes then).
    pub(super) async fn next_frame<S: Stream + Unpin>(
        &mut self,
        stream: &mut S,
        node: &Node,
    ) -> Option<Option<S::Item>> {
        let mut next = stream.next();
        loop {
            let frame = match select(&mut next, pin!(self.one_finished())).await {
                Either::Left((frame, _)) => Some(frame),
                Either::Right(((), _)) => None,
            };
            if let Some(frame) = frame {
                return Some(frame);
            }
            if self.is_empty() && node.phase() != Phase::Running {
                return None;
            }
        }
    }

    /// Waits until none runs.
    pub(super) async fn all_finished(&mut self) {
        while !self.is_empty() {
            self.one_finished().await;
        }
    }
}
