//! The calls waiting on one client connection. Each has an entry under its request id that
//! holds the caller's waker, then its outcome, and the call's deadline. The connection's task
//! fills entries as responses arrive and fails them all when it ends; one sweep per
//! connection keeps one timer for all of them ([`Pending::run_deadlines`], armed at the
//! earliest deadline), so a call that waits for its response allocates nothing and
//! registers no timer of its own.

use crate::error::{TarsError, TarsResult};
use crate::protocol::ResponsePacket;
use std::collections::hash_map::{Entry as Slot, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// When a call gives up, and the timeout it reports then.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The error of a call that reached this deadline.
    pub(crate) fn expired(&self) -> TarsError {
        TarsError::Timeout(self.timeout.as_millis().min(u64::MAX as u128) as u64)
    }

    /// Runs `future` until the deadline; past it, the call's timeout error.
    pub(crate) async fn within<T>(
        &self,
        future: impl std::future::Future<Output = TarsResult<T>>,
    ) -> TarsResult<T> {
        match tokio::time::timeout_at(self.at, future).await {
            Ok(result) => result,
            Err(_) => Err(self.expired()),
        }
    }
}

/// Hashes request ids with one multiplication (SipHash cost ~3 % of a proxy call). The ids
/// are this connection's own (or its caller's), never chosen by the peer.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, id: i32) {
        // Fibonacci hashing: sequential ids spread over the high bits the table probes with.
        self.0 = u64::from(id as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

enum State {
    /// No outcome yet; the waker of the caller's last poll.
    Waiting(Option<Waker>),
    /// The outcome, kept until the caller takes it.
    Done(TarsResult<ResponsePacket>),
}

struct Entry {
    deadline: Deadline,
    state: State,
}

impl Entry {
    /// Stores the outcome if none is there yet; returns the waker to wake.
    fn finish(&mut self, outcome: TarsResult<ResponsePacket>) -> Option<Waker> {
        match &mut self.state {
            State::Waiting(waker) => {
                let waker = waker.take();
                self.state = State::Done(outcome);
                waker
            }
            State::Done(_) => None,
        }
    }
}

struct Table {
    calls: HashMap<i32, Entry, BuildHasherDefault<IdHasher>>,
    /// The deadline the sweep's timer is set for, if any; never later than the earliest
    /// deadline of a waiting call.
    armed: Option<Instant>,
    /// Set once by [`Pending::close`]: nothing registers afterwards.
    closed: bool,
}

/// Why a call could not be registered.
pub(crate) enum RegisterError {
    /// The connection closed.
    Closed,
    /// A call with this request id is already waiting.
    InUse,
}

/// The calls waiting on one connection.
pub(crate) struct Pending {
    table: Mutex<Table>,
    /// Tells the sweep that a call's deadline is earlier than its timer.
    rearm: Notify,
}

impl Pending {
    pub(crate) fn new() -> Self {
        Pending {
            table: Mutex::new(Table {
                calls: HashMap::default(),
                armed: None,
                closed: false,
            }),
            rearm: Notify::new(),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls registered and not yet taken by their callers.
    pub(crate) fn len(&self) -> usize {
        self.table().calls.len()
    }

    /// Registers a call waiting for `id` until `deadline`; `waker` is woken when its outcome
    /// comes, as if the call had been polled with it.
    pub(crate) fn register(
        &self,
        id: i32,
        deadline: Deadline,
        waker: &Waker,
    ) -> Result<(), RegisterError> {
        let rearm = {
            let mut table = self.table();
            if table.closed {
                return Err(RegisterError::Closed);
            }
            match table.calls.entry(id) {
                Slot::Occupied(_) => return Err(RegisterError::InUse),
                Slot::Vacant(slot) => {
                    slot.insert(Entry {
                        deadline,
                        state: State::Waiting(Some(waker.clone())),
                    });
                }
            }
            // Calls of one timeout come in deadline order: the timer is already early enough.
            let rearm = table.armed.is_none_or(|at| deadline.at < at);
            if rearm {
                table.armed = Some(deadline.at);
            }
            rearm
        };
        if rearm {
            self.rearm.notify_one();
        }
        Ok(())
    }

    /// Gives the response to the call waiting for its id; false if none waits (it gave up).
    pub(crate) fn complete(&self, response: ResponsePacket) -> bool {
        let waker = {
            let mut table = self.table();
            match table.calls.get_mut(&response.request_id) {
                Some(entry) => entry.finish(Ok(response)),
                None => return false,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The outcome of call `id` once there is one (taking its entry out), with the number
    /// of calls left. `None` if the call has no entry (it was taken already).
    pub(crate) fn poll_take(
        &self,
        id: i32,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(TarsResult<ResponsePacket>, usize)>> {
        let mut table = self.table();
        // One probe: the entry is looked at and, when done, taken out through one slot.
        let Slot::Occupied(mut slot) = table.calls.entry(id) else {
            return Poll::Ready(None);
        };
        if let State::Waiting(waker) = &mut slot.get_mut().state {
            match waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let State::Done(outcome) = slot.remove().state else {
            unreachable!("the entry was just seen done")
        };
        Poll::Ready(Some((outcome, table.calls.len())))
    }

    /// Forgets call `id` (its caller gave up); returns the number of calls left.
    pub(crate) fn forget(&self, id: i32) -> usize {
        let mut table = self.table();
        table.calls.remove(&id);
        table.calls.len()
    }

    /// Refuses further calls and fails every waiting one with `error()`.
    pub(crate) fn close(&self, error: impl Fn() -> TarsError) {
        let wakers: Vec<Waker> = {
            let mut table = self.table();
            table.closed = true;
            table
                .calls
                .values_mut()
                .filter_map(|entry| entry.finish(Err(error())))
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
        // The sweep ends once it sees the table closed.
        self.rearm.notify_one();
    }

    /// Fails the waiting calls whose deadline passed at `now` and sets the timer to the
    /// earliest deadline left.
    fn expire(&self, now: Instant) {
        let mut wakers = Vec::new();
        {
            let mut table = self.table();
            let mut earliest: Option<Instant> = None;
            for entry in table.calls.values_mut() {
                if !matches!(entry.state, State::Waiting(_)) {
                    continue;
                }
                if entry.deadline.at <= now {
                    let error = entry.deadline.expired();
                    wakers.extend(entry.finish(Err(error)));
                } else if earliest.is_none_or(|at| entry.deadline.at < at) {
                    earliest = Some(entry.deadline.at);
                }
            }
            table.armed = earliest;
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The deadline sweep: fails each waiting call when its deadline passes, until
    /// [`close`](Self::close) (which fails the rest). It does not stop at the connection's
    /// token: a call still ends at its deadline while the connection's task, stuck in user
    /// code, has not closed the table yet.
    pub(crate) async fn run_deadlines(&self) {
        loop {
            // A register or close after this read leaves a permit in `rearm`: the wait
            // below returns.
            let (armed, closed) = {
                let table = self.table();
                (table.armed, table.closed)
            };
            if closed {
                return;
            }
            match armed {
                None => self.rearm.notified().await,
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => self.expire(Instant::now()),
                        _ = self.rearm.notified() => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    fn response(id: i32) -> ResponsePacket {
        ResponsePacket {
            request_id: id,
            ..Default::default()
        }
    }

    async fn outcome(pending: &Pending, id: i32) -> Option<TarsResult<ResponsePacket>> {
        poll_fn(|cx| pending.poll_take(id, cx))
            .await
            .map(|(o, _)| o)
    }

    #[tokio::test(start_paused = true)]
    async fn each_call_fails_at_its_own_deadline() {
        let pending = Pending::new();
        let start = Instant::now();
        // Registered out of deadline order: the sweep re-arms for the earlier one.
        assert!(pending
            .register(
                1,
                Deadline::after(Duration::from_millis(300)),
                Waker::noop()
            )
            .is_ok());
        assert!(pending
            .register(
                2,
                Deadline::after(Duration::from_millis(100)),
                Waker::noop()
            )
            .is_ok());
        assert!(pending
            .register(
                3,
                Deadline::after(Duration::from_millis(200)),
                Waker::noop()
            )
            .is_ok());
        let sweep = pending.run_deadlines();
        let calls = async {
            let mut ended = Vec::new();
            for id in [2, 3, 1] {
                let result = outcome(&pending, id).await.expect("an entry");
                assert!(matches!(result, Err(TarsError::Timeout(_))), "{id}");
                ended.push((id, (Instant::now() - start).as_millis()));
            }
            ended
        };
        let ended = tokio::select! {
            _ = sweep => unreachable!("the sweep ends only with the table"),
            ended = calls => ended,
        };
        assert_eq!(ended, vec![(2, 100), (3, 200), (1, 300)]);
        assert_eq!(pending.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_call_is_not_failed_by_the_sweep() {
        let pending = Pending::new();
        assert!(pending
            .register(7, Deadline::after(Duration::from_millis(50)), Waker::noop())
            .is_ok());
        assert!(pending.complete(response(7)));
        let sweep = pending.run_deadlines();
        tokio::select! {
            _ = sweep => unreachable!(),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let got = outcome(&pending, 7).await.expect("an entry");
        assert_eq!(got.expect("the response").request_id, 7);
        assert!(
            !pending.complete(response(7)),
            "taken: nobody waits any more"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_ends_when_the_table_closes() {
        let pending = Pending::new();
        assert!(pending
            .register(1, Deadline::after(Duration::from_secs(60)), Waker::noop())
            .is_ok());
        let sweep = pending.run_deadlines();
        let close = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            pending.close(|| TarsError::ConnectionClosed("gone".into()));
        };
        // The sweep returns (long before the call's deadline) once the table is closed.
        let ((), ()) = tokio::join!(sweep, close);
        let got = outcome(&pending, 1).await.expect("an entry");
        assert!(matches!(got, Err(TarsError::ConnectionClosed(_))));
    }

    #[tokio::test]
    async fn close_fails_waiting_calls_and_refuses_new_ones() {
        let pending = Pending::new();
        assert!(pending
            .register(1, Deadline::after(Duration::from_secs(5)), Waker::noop())
            .is_ok());
        assert!(matches!(
            pending.register(1, Deadline::after(Duration::from_secs(5)), Waker::noop()),
            Err(RegisterError::InUse)
        ));
        pending.close(|| TarsError::ConnectionClosed("gone".into()));
        let got = outcome(&pending, 1).await.expect("an entry");
        assert!(matches!(got, Err(TarsError::ConnectionClosed(_))));
        assert!(matches!(
            pending.register(2, Deadline::after(Duration::from_secs(5)), Waker::noop()),
            Err(RegisterError::Closed)
        ));
        assert_eq!(pending.forget(1), 0);
    }
}
