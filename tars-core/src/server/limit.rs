//! Back-pressure counters: [`InFlight`], running requests against a limit, cheaper than a
//! semaphore on the hot path (two atomic operations per request, no lock); [`ByteBudget`],
//! the server-wide budget of buffered request bytes; and [`ServerState`], what every
//! connection of a server shares.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts requests in flight against a limit.
pub(crate) struct InFlight {
    count: AtomicUsize,
    limit: usize,
}

/// One request in flight; dropping it ends the request.
pub(crate) struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(InFlight {
            count: AtomicUsize::new(0),
            limit,
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
        self.count.fetch_sub(1, Ordering::AcqRel);
    }

    /// Requests in flight now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Bytes of requests read and not yet answered, against a server-wide limit.
///
/// A request that is answered while its frame is being handled (most are) never reserves:
/// admission only checks that its bytes fit. A request whose handler waits reserves its bytes
/// until it is answered or dropped.
pub(crate) struct ByteBudget {
    used: AtomicUsize,
    limit: usize,
}

/// Bytes reserved in a [`ByteBudget`]; dropping it releases them.
pub(crate) struct BudgetGuard {
    budget: Arc<ServerState>,
    bytes: usize,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> Self {
        ByteBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Whether `bytes` more fit in the budget now.
    pub(crate) fn fits(&self, bytes: usize) -> bool {
        self.used.load(Ordering::Acquire).saturating_add(bytes) <= self.limit
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// What every connection of one server shares: the server-wide limits and the panic count.
pub(crate) struct ServerState {
    pub(crate) in_flight: Arc<InFlight>,
    pub(crate) request_bytes: ByteBudget,
    /// Panics caught in user code (servants, parsers, close hooks, `do_close`).
    pub(crate) panics: AtomicU64,
    /// Set when a graceful shutdown ran out of time: every connection is closing.
    pub(crate) force_closed: AtomicBool,
}

impl ServerState {
    pub(crate) fn new(max_in_flight: usize, max_request_bytes: usize) -> Arc<Self> {
        Arc::new(ServerState {
            in_flight: InFlight::new(max_in_flight),
            request_bytes: ByteBudget::new(max_request_bytes),
            panics: AtomicU64::new(0),
            force_closed: AtomicBool::new(false),
        })
    }

    /// Reserves `bytes` of the request budget (admission already checked that they fit).
    pub(crate) fn reserve_request_bytes(self: &Arc<Self>, bytes: usize) -> BudgetGuard {
        self.request_bytes.used.fetch_add(bytes, Ordering::AcqRel);
        BudgetGuard {
            budget: self.clone(),
            bytes,
        }
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        self.budget
            .request_bytes
            .used
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_are_reserved_until_released() {
        let state = ServerState::new(10, 100);
        assert!(state.request_bytes.fits(100));
        let a = state.reserve_request_bytes(60);
        assert!(!state.request_bytes.fits(41), "60 + 41 is over 100");
        assert!(state.request_bytes.fits(40));
        drop(a);
        assert_eq!(state.request_bytes.used(), 0);
    }

    #[test]
    fn counts_against_the_limit() {
        let in_flight = InFlight::new(2);
        let a = in_flight.try_begin().unwrap();
        let b = in_flight.try_begin().unwrap();
        assert!(in_flight.try_begin().is_none(), "a third is refused");
        drop(a);
        let c = in_flight.try_begin().expect("room again");
        assert_eq!(in_flight.count(), 2);
        drop((b, c));
        assert_eq!(in_flight.count(), 0);
    }
}
