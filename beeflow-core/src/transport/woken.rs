//! A future polled only when one of the wakers it handed out was woken.
//!
//! The connection loop runs its reader, writer and watchdogs side by side in one task, and a
//! task is polled whole: a reply queued by the reader wakes the writer, and with it every
//! other part. A poll is not free: the WebSocket codec zeroes its 4 KiB read buffer before
//! every read attempt, timers check the clock. Wrapped in [`Woken`], a part is skipped when
//! nothing it waits on changed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::{ArcWake, AtomicWaker, waker_ref};

/// `future`, polled only on its first poll and after a waker it was given was woken.
pub(crate) struct Woken<F> {
    future: F,
    flag: Arc<Flag>,
}

/// What the wakers handed to the inner future share: whether one was woken, and the task
/// to wake then.
struct Flag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl ArcWake for Flag {
    fn wake_by_ref(flag: &Arc<Self>) {
        flag.woken.store(true, Ordering::Release);
        flag.task.wake();
    }
}

impl<F> Woken<F> {
    pub(crate) fn new(future: F) -> Self {
        Self {
            future,
            flag: Arc::new(Flag {
                woken: AtomicBool::new(true),
                task: AtomicWaker::new(),
            }),
        }
    }
}

impl<F: Future + Unpin> Future for Woken<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Registered before the flag is read: a wake in between is not lost.
        this.flag.task.register(cx.waker());
        if !this.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let waker = waker_ref(&this.flag);
        Pin::new(&mut this.future).poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Waker;

    use super::*;

    /// Counts its polls; ready once `ready` is set, and wakes through the waker it stored.
    struct Probe {
        polls: Arc<AtomicUsize>,
        stored: Arc<std::sync::Mutex<Option<Waker>>>,
        ready: Arc<AtomicBool>,
    }

    impl Future for Probe {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.stored.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn polls_the_inner_future_only_after_its_waker_was_woken() {
        let (polls, stored, ready) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(std::sync::Mutex::new(None::<Waker>)),
            Arc::new(AtomicBool::new(false)),
        );
        let mut woken = Woken::new(Probe {
            polls: polls.clone(),
            stored: stored.clone(),
            ready: ready.clone(),
        });
        let task_woken = Arc::new(AtomicUsize::new(0));
        struct CountingTask(Arc<AtomicUsize>);
        impl ArcWake for CountingTask {
            fn wake_by_ref(task: &Arc<Self>) {
                task.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let task = Arc::new(CountingTask(task_woken.clone()));
        let waker = waker_ref(&task);
        let mut cx = Context::from_waker(&waker);

        assert!(Pin::new(&mut woken).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1, "the first poll reaches it");
        // The task is polled again for something else: the inner future is not.
        assert!(Pin::new(&mut woken).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1);

        ready.store(true, Ordering::SeqCst);
        stored.lock().unwrap().take().unwrap().wake();
        assert_eq!(task_woken.load(Ordering::SeqCst), 1, "the task is woken");
        assert!(Pin::new(&mut woken).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }
}
