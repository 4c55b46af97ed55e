//! Module `TestApp` of TarsCpp's QuickStartDemo, the server the benchmarks drive: `Hello`
//! answers `testHello` with its input, and a second servant (the push interface of
//! [`push_callback`](super::push_callback)) broadcasts timed pushes for push load.
//!
//! ```text
//! module TestApp
//! {
//!     interface Hello
//!     {
//!         int test();
//!         int testHello(string sReq, out string sRsp);
//!     };
//! };
//! ```
//!
//! The push servant `TestApp.HelloServer.PushObj` is [`push_callback::Hello`]
//! (`int registerPush()`); each push is `Push::pushMsg` whose `sRsp` is `"SEQ:MICROS"`, a
//! sequence number and the send time in microseconds since the UNIX epoch
//! ([`timed_push_message`], [`parse_timed_push`]).

use super::push_callback::{self, PushSender, PushServer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tars_core::prelude::*;
use tars_core::server::BroadcastReport;

/// The servant object name of `Hello`.
pub const HELLO_OBJ: &str = "TestApp.HelloServer.HelloObj";

/// The servant object name of the push servant (`registerPush`).
pub const PUSH_OBJ: &str = "TestApp.HelloServer.PushObj";

/// `interface Hello` of the QuickStartDemo.
#[tars_interface]
pub trait Hello {
    /// `int test()`: returns 0.
    async fn test(&self) -> TarsResult<i32>;
    /// `int testHello(string sReq, out string sRsp)`: sRsp = sReq.
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> TarsResult<i32>;
}

/// The QuickStartDemo's `HelloImp`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HelloImpl;

impl Hello for HelloImpl {
    async fn test(&self) -> TarsResult<i32> {
        Ok(0)
    }

    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> TarsResult<i32> {
        *s_rsp = s_req;
        Ok(0)
    }
}

/// Microseconds since the UNIX epoch, now.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The `sRsp` of push number `seq` sent at `micros`: `"SEQ:MICROS"`.
pub fn timed_push_message(seq: u64, micros: u64) -> String {
    format!("{seq}:{micros}")
}

/// The sequence number and send time of a timed push, if `msg` is one.
pub fn parse_timed_push(msg: &str) -> Option<(u64, u64)> {
    let (seq, micros) = msg.split_once(':')?;
    Some((seq.parse().ok()?, micros.parse().ok()?))
}

/// Starts both servants: `Hello` on `endpoint` and the push servant on `push_endpoint`.
/// Returns the server and the push servant (its registry holds the registered clients).
pub async fn serve(endpoint: &str, push_endpoint: &str) -> TarsResult<(Server, PushServer)> {
    let pusher = PushServer::default();
    let server = Server::builder()
        .servant(HELLO_OBJ, endpoint, HelloServant::new(HelloImpl))
        .servant(
            PUSH_OBJ,
            push_endpoint,
            push_callback::HelloServant::new(pusher.clone()),
        )
        .start()
        .await?;
    Ok((server, pusher))
}

/// What a [`start_timed_pushing`] task did so far, read with [`PushStats::snapshot`].
#[derive(Debug, Default)]
pub struct PushStats {
    inner: std::sync::Mutex<PushTotals>,
}

/// Totals of a pushing task.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct PushTotals {
    /// Broadcasts made (the last sequence number used is `rounds - 1`).
    pub rounds: u64,
    /// Pushes queued on connections, summed over broadcasts.
    pub queued: u64,
    /// Connections that failed (closed or too slow), summed over broadcasts.
    pub failed: u64,
    /// Time spent inside `CurrentRegistry::broadcast`.
    pub broadcast_time: Duration,
    /// The most connections one broadcast reached.
    pub peak: u64,
    /// Pushes queued by the broadcasts that reached at least 99 % of `peak` (counted again
    /// from each new peak), and the time they took: the rate once every client is there.
    pub at_peak_queued: u64,
    /// See `at_peak_queued`.
    pub at_peak_time: Duration,
}

impl PushStats {
    /// The totals now.
    pub fn snapshot(&self) -> PushTotals {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, report: BroadcastReport, took: Duration) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.rounds += 1;
        t.queued += report.sent as u64;
        t.failed += report.failed as u64;
        t.broadcast_time += took;
        let sent = report.sent as u64;
        if sent * 100 > t.peak * 101 {
            // Well past the last peak (clients are still arriving): count again from here.
            t.at_peak_queued = 0;
            t.at_peak_time = Duration::ZERO;
        }
        t.peak = t.peak.max(sent);
        if sent * 100 >= t.peak * 99 {
            t.at_peak_queued += sent;
            t.at_peak_time += took;
        }
    }
}

/// Broadcasts `rate` timed pushes per second (sequence numbers from 0) to every client
/// registered with `server`, until the task is aborted. Rates above the 1 ms timer
/// resolution send several pushes per tick, so the average rate holds.
pub fn start_timed_pushing(
    server: &PushServer,
    rate: f64,
    stats: std::sync::Arc<PushStats>,
) -> tokio::task::JoinHandle<()> {
    let registry = server.registry.clone();
    tokio::spawn(async move {
        if rate <= 0.0 || !rate.is_finite() {
            return;
        }
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_millis(1));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let start = tokio::time::Instant::now();
        let mut seq = 0u64;
        loop {
            ticker.tick().await;
            let due = (start.elapsed().as_secs_f64() * rate) as u64 + 1;
            while seq < due {
                let frame = PushSender::push_msg_frame(0, &timed_push_message(seq, unix_micros()));
                let began = std::time::Instant::now();
                let report = registry.broadcast(&frame);
                stats.add(report, began.elapsed());
                seq += 1;
            }
        }
    })
}
