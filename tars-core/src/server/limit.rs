//! [`InFlight`]: a counter of running requests with a limit, cheaper than a semaphore on the
//! hot path (two atomic operations per request, no lock), that can be waited on until idle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Counts requests in flight against a limit.
pub(crate) struct InFlight {
    count: AtomicUsize,
    limit: usize,
    idle: Notify,
}

/// One request in flight; dropping it ends the request.
pub(crate) struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(InFlight {
            count: AtomicUsize::new(0),
            limit,
            idle: Notify::new(),
        })
    }

    /// Starts a request, or `None` when `limit` are already running.
    pub(crate) fn try_begin(self: &Arc<Self>) -> Option<InFlightGuard> {
        let previous = self.count.fetch_add(1, Ordering::AcqRel);
        if previous >= self.limit {
            self.end();
            return None;
        }
        Some(InFlightGuard(self.clone()))
    }

    fn end(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Resolves once no request is in flight.
    pub(crate) async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_against_the_limit_and_drains() {
        let in_flight = InFlight::new(2);
        let a = in_flight.try_begin().unwrap();
        let b = in_flight.try_begin().unwrap();
        assert!(in_flight.try_begin().is_none(), "a third is refused");
        drop(a);
        let c = in_flight.try_begin().expect("room again");
        let waiter = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.drained().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop((b, c));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
