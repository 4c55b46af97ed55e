//! Sending one frame to many connections ([`CurrentRegistry::broadcast`](super::CurrentRegistry::broadcast)):
//! each push is written straight to an idle connection's socket (see `net::Outbound::push`),
//! and a large fan-out is split over the machine's cores.

use super::current::Connection;
use super::registry::BroadcastReport;
use std::sync::{Arc, OnceLock};

/// Fewest connections per thread worth a thread of their own.
const PER_THREAD: usize = 512;

/// The cores to spread a fan-out over (`TARS_BROADCAST_THREADS` overrides; 1 keeps it on the
/// caller's thread).
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::env::var("TARS_BROADCAST_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    })
}

/// Sends `frame` to every connection of `conns`, on the calling thread and, past
/// [`PER_THREAD`] connections per core, on scoped helper threads too. Never waits for a peer.
pub(crate) fn send_to_all(conns: &[Arc<Connection>], frame: &[u8]) -> BroadcastReport {
    let threads = cores().min(conns.len() / PER_THREAD).max(1);
    if threads == 1 {
        return send_chunk(conns, frame);
    }
    let chunk = conns.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = conns.chunks(chunk);
        let mine = parts.next().unwrap_or_default();
        let helpers: Vec<_> = parts
            .map(|part| {
                let spawned = std::thread::Builder::new()
                    .name("tars-broadcast".into())
                    .spawn_scoped(scope, move || send_chunk(part, frame));
                // No thread to be had: that part is sent here.
                spawned.map_err(|_| part)
            })
            .collect();
        let mut report = send_chunk(mine, frame);
        for helper in helpers {
            let part = match helper {
                Ok(handle) => handle.join().unwrap_or_default(),
                Err(part) => send_chunk(part, frame),
            };
            report.sent += part.sent;
            report.failed += part.failed;
        }
        report
    })
}

fn send_chunk(conns: &[Arc<Connection>], frame: &[u8]) -> BroadcastReport {
    let mut report = BroadcastReport::default();
    for conn in conns {
        match conn.send_unsolicited(frame) {
            Ok(()) => report.sent += 1,
            Err(_) => report.failed += 1,
        }
    }
    report
}
