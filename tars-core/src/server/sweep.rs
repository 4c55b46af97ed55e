//! The idle and drain checks of an adapter's connections: one task per adapter looks at every
//! connection a few times per idle timeout and during a graceful shutdown, instead of a timer
//! in every connection's task (an idle connection's memory is mostly its task).
//!
//! A connection is watched while its driver runs (after its TLS and AK/SK set-up, which have
//! their own timeout). The sweep closes a connection by recording the reason and waking its driver
//! ([`Connection::close_with`]); the driver never looks at a clock.

use super::connection::{ConnectionProtocol, Driving};
use super::current::{CloseReason, Connection, SweepClose};
use slab::Slab;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// While draining for a shutdown, a connection whose requests are answered and flushed
/// closes once nothing has arrived for this long (or at once when the peer closes).
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// How often the drain is checked.
const DRAIN_TICK: Duration = Duration::from_millis(25);

/// An adapter's live connections and its sweep clock.
pub(crate) struct Sweep {
    base: Instant,
    entries: Mutex<Slab<Entry>>,
    /// Ends the sweep task: cancelled when the adapter's last user lets go of it.
    stop: CancellationToken,
}

struct Entry {
    conn: Weak<Connection>,
    /// The connection's `written_total` when last looked at.
    written_seen: u64,
    /// When the peer was last seen active (read from, or reading what was written).
    active_ms: u64,
    /// `on_shutdown` ran for this connection.
    notified: bool,
}

impl Sweep {
    pub(crate) fn new() -> Self {
        Sweep {
            base: Instant::now(),
            entries: Mutex::new(Slab::new()),
            stop: CancellationToken::new(),
        }
    }

    /// Milliseconds on the sweep clock (tokio's clock: paused in tests that pause it).
    pub(crate) fn now_ms(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.base)
            .as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, Slab<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches `conn` until the guard is dropped; its idle time counts from now.
    pub(crate) fn watch(&self, conn: &Arc<Connection>) -> Watched<'_> {
        let now = self.now_ms();
        conn.read_at(now);
        let key = self.lock().insert(Entry {
            conn: Arc::downgrade(conn),
            written_seen: 0,
            active_ms: now,
            notified: false,
        });
        Watched { sweep: self, key }
    }

    /// Closes every connection now (a force close cancelled their tokens already): records
    /// the reason and wakes each driver.
    fn close_all(&self) {
        for (_, entry) in self.lock().iter() {
            if let Some(conn) = entry.conn.upgrade() {
                conn.close_with(CloseReason::Shutdown);
            }
        }
    }

    /// One look at every connection: asks the idle ones and, when draining, the drained ones
    /// to close. Returns the connections that still need `on_shutdown`.
    fn pass(&self, idle: Option<Duration>, drain_start: Option<u64>) -> Vec<Arc<Connection>> {
        let now = self.now_ms();
        let idle_ms = idle.map(|d| d.as_millis() as u64);
        let mut notify = Vec::new();
        for (_, entry) in self.lock().iter_mut() {
            let Some(conn) = entry.conn.upgrade() else {
                continue;
            };
            if conn.closed_token().is_cancelled() {
                // Closed; its task is ending.
                continue;
            }
            let last_read = conn.last_read_ms();
            if let Some(idle_ms) = idle_ms {
                let written = conn.outbound.written_total();
                if written != entry.written_seen {
                    // The peer read something since the last look.
                    entry.written_seen = written;
                    entry.active_ms = now;
                }
                entry.active_ms = entry.active_ms.max(last_read);
                if now >= entry.active_ms.saturating_add(idle_ms) {
                    conn.request_close(SweepClose::Idle);
                    continue;
                }
            }
            let Some(start) = drain_start else { continue };
            if !entry.notified {
                entry.notified = true;
                notify.push(conn);
                continue;
            }
            let quiet_since = last_read.max(start);
            if conn.in_flight() == 0
                && conn.outbound.unsent() == 0
                && now >= quiet_since + DRAIN_QUIET.as_millis() as u64
            {
                // Answered, flushed, and nothing more arrives.
                conn.request_close(SweepClose::Drained);
            }
        }
        notify
    }
}

/// A connection the sweep watches; dropping it (the driver ended, or its task was dropped)
/// makes the sweep forget the connection.
pub(crate) struct Watched<'a> {
    sweep: &'a Sweep,
    key: usize,
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        self.sweep.lock().try_remove(self.key);
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the sweep of the adapter whose connections run with `driving`. It ends when the
/// adapter's accept loop and last connection have let go of `driving`.
///
/// Tracked with the server's connection tasks, so a shutdown returns after it (and its hold
/// on the protocol and the servant) has ended.
pub(crate) fn spawn<P: ConnectionProtocol>(
    tracker: &tokio_util::task::TaskTracker,
    driving: &Arc<Driving>,
    protocol: Arc<P>,
) {
    let weak = Arc::downgrade(driving);
    let stop = driving.sweep.stop.clone();
    let shutdown = driving.shutdown.clone();
    let force_close = driving.force_close.clone();
    let idle = driving.idle_timeout;
    tracker.spawn(async move {
        let idle_tick =
            idle.map(|d| (d / 4).clamp(Duration::from_millis(5), Duration::from_secs(1)));
        let mut drain_start = None;
        let mut forced = false;
        loop {
            let tick = match (idle_tick, drain_start.is_some()) {
                (Some(t), true) => t.min(DRAIN_TICK),
                (None, true) => DRAIN_TICK,
                (Some(t), false) => t,
                (None, false) => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.cancelled(), if drain_start.is_none() => {
                    let Some(driving) = weak.upgrade() else { return };
                    drain_start = Some(driving.sweep.now_ms());
                }
                _ = force_close.cancelled(), if !forced => {
                    forced = true;
                    let Some(driving) = weak.upgrade() else { return };
                    driving.sweep.close_all();
                    continue;
                }
            }
            let Some(driving) = weak.upgrade() else {
                return;
            };
            let notify = driving.sweep.pass(idle, drain_start);
            drop(driving);
            for (i, conn) in notify.into_iter().enumerate() {
                if i % 256 == 255 {
                    // Thousands of notices (each may be a `send`): let the worker poll I/O.
                    tokio::task::yield_now().await;
                }
                // Outside the lock: the protocol queues its notice on the connection.
                if std::panic::catch_unwind(AssertUnwindSafe(|| protocol.on_shutdown(&conn)))
                    .is_err()
                {
                    conn.panicked("on_shutdown");
                }
            }
        }
    });
}
