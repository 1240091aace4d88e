//! Waiting for a condition that a `Notify` announces changes of.

use tokio::sync::Notify;

/// Resolves with the first `Some` that `check` gives, calling it again each time `notify`
/// wakes its waiters.
///
/// The wait is registered before each check, so a change announced between the check and
/// the wait is not missed; `notify_waiters` (which keeps no permit) is then enough.
pub(crate) async fn until<T>(notify: &Notify, mut check: impl FnMut() -> Option<T>) -> T {
    // Most waits are over before they start (a queue with room): then no waiter is
    // registered at all, which would take the `Notify`'s own lock twice.
    if let Some(value) = check() {
        return value;
    }
    loop {
        let notified = notify.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if let Some(value) = check() {
            return value;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_change_announced_after_the_check_wakes_the_wait() {
        let notify = Arc::new(Notify::new());
        let ready = Arc::new(AtomicBool::new(false));
        let waiting = tokio::spawn({
            let (notify, ready) = (notify.clone(), ready.clone());
            async move { until(&notify, || ready.load(Ordering::SeqCst).then_some(7)).await }
        });
        tokio::task::yield_now().await;
        ready.store(true, Ordering::SeqCst);
        notify.notify_waiters();
        assert_eq!(waiting.await.unwrap(), 7);
    }
}
