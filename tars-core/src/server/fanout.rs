//! Sending one frame to many connections ([`CurrentRegistry::broadcast`](super::CurrentRegistry::broadcast)).
//!
//! First the frame is queued on every connection (a short lock and a copy each; checks and
//! the slow-consumer policy as for any push), waking no connection task. Then the queues that
//! were empty are flushed: written straight to their sockets (`net::Outbound::flush`), by a
//! few tasks spread over the runtime's worker threads rather than by one wake-up of each
//! connection's task. Only a connection whose socket does not take the whole frame has its
//! writer woken.

use super::current::Connection;
use super::registry::BroadcastReport;
use std::sync::Arc;

/// Connections flushed by one task (and the most flushed on the caller's thread).
const PER_TASK: usize = 256;
/// A flush task yields after this many flushes (each is a `send`): a yield lets the worker
/// poll the I/O driver, so accepting and reading go on during a large fan-out.
const YIELD_EVERY: usize = 16;

/// Queues `frame` on every connection of `conns` and has the idle ones flushed. Never waits
/// for a peer.
pub(crate) fn send_to_all(mut conns: Vec<Arc<Connection>>, frame: &[u8]) -> BroadcastReport {
    let mut report = BroadcastReport::default();
    // The connections whose queue was empty move to the front, in place (no second `Arc`).
    let mut idle = 0;
    for i in 0..conns.len() {
        match conns[i].queue_unsolicited(frame) {
            Ok(was_empty) => {
                report.sent += 1;
                if was_empty {
                    conns.swap(idle, i);
                    idle += 1;
                }
            }
            Err(_) => report.failed += 1,
        }
    }
    conns.truncate(idle);
    flush_all(conns);
    report
}

/// Flushes `conns`: on the caller's thread when they are few or there is no runtime, else
/// in tasks of [`PER_TASK`] connections.
fn flush_all(mut conns: Vec<Arc<Connection>>) {
    let handle = tokio::runtime::Handle::try_current().ok();
    let Some(handle) = handle.filter(|_| conns.len() > PER_TASK) else {
        return Pending(conns).flush();
    };
    while !conns.is_empty() {
        let chunk = conns.split_off(conns.len().saturating_sub(PER_TASK));
        let mut pending = Pending(chunk);
        handle.spawn(async move {
            let mut flushed = 0;
            while let Some(conn) = pending.0.pop() {
                conn.outbound.flush();
                flushed += 1;
                if flushed % YIELD_EVERY == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
}

/// Connections to flush; those still here when it is dropped (a task that never ran) get
/// their writers woken instead.
struct Pending(Vec<Arc<Connection>>);

impl Pending {
    fn flush(mut self) {
        while let Some(conn) = self.0.pop() {
            conn.outbound.flush();
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        for conn in self.0.drain(..) {
            conn.outbound.wake();
        }
    }
}
