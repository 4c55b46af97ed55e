//! The measurement window and what each load task records in it (`Partial`), gathered
//! into one `Report`.

use crate::args::fail;
use crate::report::{new_hist, Hist, Report};
use serde_json::Map;
use std::time::{Duration, Instant};

/// The measurement window: calls are counted and their latency recorded when they start at
/// or after `measure` and finish by `end`.
#[derive(Clone, Copy)]
pub struct Window {
    pub base: Instant,
    pub measure: Instant,
    pub end: Instant,
}

impl Window {
    /// Opens after `warmup` from now and lasts `secs`.
    pub fn new(warmup: Duration, secs: Duration) -> Self {
        let base = Instant::now();
        Window {
            base,
            measure: base + warmup,
            end: base + warmup + secs,
        }
    }

    /// Whether a call that ran from `started` to `finished` counts.
    pub fn counts(&self, started: Instant, finished: Instant) -> bool {
        started >= self.measure && finished <= self.end
    }

    /// The length of the window in seconds.
    pub fn secs(&self) -> f64 {
        (self.end - self.measure).as_secs_f64()
    }
}

/// Figures of one load task. Latencies are buffered and added to the histogram in batches,
/// so hundreds of tasks do not thrash the cache with their histograms on every call.
pub struct Partial {
    pub calls: u64,
    pub errors: u64,
    hist: Hist,
    pending: Vec<u32>,
}

impl Partial {
    /// Nothing recorded yet.
    pub fn new() -> Self {
        Partial {
            calls: 0,
            errors: 0,
            hist: new_hist(),
            pending: Vec::new(),
        }
    }

    /// Counts one successful call that took `d`.
    pub fn record(&mut self, d: Duration) {
        self.calls += 1;
        self.pending
            .push(d.as_micros().min(u32::MAX as u128) as u32);
        if self.pending.len() >= 16 * 1024 {
            self.flush();
        }
    }

    /// Adds the buffered latencies to the histogram.
    pub fn flush(&mut self) {
        for &us in &self.pending {
            self.hist.saturating_record(us.max(1) as u64);
        }
        self.pending.clear();
    }
}

/// Sums the partials of mode `mode` into one report.
pub fn gather(mode: &str, window: Window, parts: Vec<Partial>) -> Report {
    let mut hist = new_hist();
    let (mut calls, mut errors) = (0, 0);
    for mut p in parts {
        p.flush();
        calls += p.calls;
        errors += p.errors;
        hist.add(&p.hist).expect("same histogram bounds");
    }
    Report {
        mode: mode.into(),
        calls,
        errors,
        secs: window.secs(),
        hist,
        extra: Map::new(),
    }
}

/// Awaits every load task; exits if one failed.
pub async fn join_all_parts(tasks: Vec<tokio::task::JoinHandle<Partial>>) -> Vec<Partial> {
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(
            t.await
                .unwrap_or_else(|e| fail(format!("load task failed: {e}"))),
        );
    }
    parts
}
