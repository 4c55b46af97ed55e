//! [`CurrentRegistry`]: the connections a push server keeps, by uid, removed automatically
//! when they close.

use super::current::Current;
use super::fanout;
use crate::error::{TarsError, TarsResult};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Connections kept for pushing, keyed by [`Current::uid`].
///
/// Cloning gives another handle to the same registry. An entry leaves the registry by itself
/// when its connection closes, whatever the reason.
#[derive(Clone, Default)]
pub struct CurrentRegistry {
    inner: Arc<Mutex<HashMap<u64, Current>>>,
}

/// What a broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Connections the frame was queued on.
    pub sent: usize,
    /// Connections that were closed or too slow (those are closed and leave the registry).
    pub failed: usize,
}

impl CurrentRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Current>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `current`'s connection. Returns `false` if it was already kept or is closed.
    pub fn insert(&self, current: &Current) -> bool {
        if current.is_closed() {
            return false;
        }
        let uid = current.uid();
        {
            let mut map = self.lock();
            if map.contains_key(&uid) {
                return false;
            }
            map.insert(uid, current.connection());
        }
        let weak: Weak<Mutex<HashMap<u64, Current>>> = Arc::downgrade(&self.inner);
        current.on_close(move || {
            if let Some(inner) = weak.upgrade() {
                inner.lock().unwrap_or_else(|e| e.into_inner()).remove(&uid);
            }
        });
        true
    }

    /// Forgets a connection (it stays open).
    pub fn remove(&self, uid: u64) -> Option<Current> {
        self.lock().remove(&uid)
    }

    /// The kept connection with `uid`.
    pub fn get(&self, uid: u64) -> Option<Current> {
        self.lock().get(&uid).cloned()
    }

    /// Whether `uid` is kept.
    pub fn contains(&self, uid: u64) -> bool {
        self.lock().contains_key(&uid)
    }

    /// Number of kept connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no connection is kept.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A snapshot of the kept connections.
    pub fn currents(&self) -> Vec<Current> {
        self.lock().values().cloned().collect()
    }

    /// Queues `frame` on the connection `uid`.
    pub fn send_to(&self, uid: u64, frame: Bytes) -> TarsResult<()> {
        let current = self
            .get(uid)
            .ok_or_else(|| TarsError::Invalid(format!("no connection {uid} in the registry")))?;
        current.send_response(frame)
    }

    /// Sends `frame` (encoded once) to every kept connection. Never waits: the frame is
    /// queued on every connection (a connection whose queue is full is closed under the
    /// slow-consumer policy), then the queues that were empty are written straight to their
    /// sockets, by tasks on the caller's runtime when there are many (else on this thread),
    /// waking no connection task unless its socket is full. The registry is not locked
    /// while sending.
    pub fn broadcast(&self, frame: &Bytes) -> BroadcastReport {
        let conns: Vec<_> = self.lock().values().map(|c| c.conn.clone()).collect();
        fanout::send_to_all(conns, frame)
    }
}
