//! `push` (and `push --burst`): push fan-out. `clients` connections register with the
//! push servant (in-process, or `--target`) and record the latency of every timed push;
//! the result counts what arrived in the window, what was lost and how far apart the
//! clients received each push.

use crate::args::{fail, PushOpts};
use crate::report::{emit_one, max, new_hist, quantile, round, Report};
use crate::sys::{raise_fd_limit, serve_in_process};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tars_core::prelude::*;
use tars_rs::cli;
use tars_rs::demo::push_callback::{self, PushPrxCallback, PushPrxDispatcher};
use tars_rs::demo::quickstart::{self, PushStats, PUSH_OBJ};
use tokio::sync::Semaphore;

/// What every push client saw: (sequence number, latency µs, receive time ns after `base`).
#[derive(Default)]
struct PushLog {
    entries: Mutex<Vec<(u64, u32, u64)>>,
}

/// The highest sequence number seen by any client, plus one.
#[derive(Default)]
struct PushSeen {
    next_seq: AtomicU64,
}

struct Recorder {
    log: Arc<PushLog>,
    seen: Arc<PushSeen>,
    base: Instant,
}

impl PushPrxCallback for Recorder {
    fn callback_push_msg(&self, _ret: i32, s_rsp: String) {
        let recv = self.base.elapsed().as_nanos() as u64;
        let now = quickstart::unix_micros();
        let Some((seq, sent)) = quickstart::parse_timed_push(&s_rsp) else {
            return;
        };
        let latency = now.saturating_sub(sent).min(u32::MAX as u64) as u32;
        self.log
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((seq, latency, recv));
        self.seen.next_seq.fetch_max(seq + 1, Ordering::Relaxed);
    }
}

/// An in-process push server (its own runtime) broadcasting `rate` pushes per second.
struct LocalPushServer {
    runtime: tokio::runtime::Runtime,
    pusher: push_callback::PushServer,
    stats: Arc<PushStats>,
    pushing: tokio::task::JoinHandle<()>,
    target: String,
    _server: tars_core::Server,
}

impl LocalPushServer {
    fn start(rate: f64) -> Self {
        let (runtime, server, pusher) = serve_in_process();
        let port = server.endpoint(PUSH_OBJ).expect("bound").port;
        let stats = Arc::new(PushStats::default());
        let pushing = {
            let _in_runtime = runtime.enter();
            quickstart::start_timed_pushing(&pusher, rate, stats.clone())
        };
        LocalPushServer {
            runtime,
            pusher,
            stats,
            pushing,
            target: format!("{PUSH_OBJ}@tcp -h 127.0.0.1 -p {port}"),
            _server: server,
        }
    }
}

async fn push_bench(
    opts: PushOpts,
    target: String,
    local: Option<&LocalPushServer>,
) -> Map<String, Value> {
    let base = Instant::now();
    let seen = Arc::new(PushSeen::default());
    let connecting = Arc::new(Semaphore::new(256));
    let mut joins = tokio::task::JoinSet::new();
    for _ in 0..opts.clients {
        let permit = connecting
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        let (target, seen) = (target.clone(), seen.clone());
        joins.spawn(async move {
            let comm = Communicator::new();
            let proxy: push_callback::HelloProxy = comm.string_to_proxy(&target)?;
            let log = Arc::new(PushLog::default());
            proxy
                .servant_proxy()
                .set_push_callback(PushPrxDispatcher::new(Recorder {
                    log: log.clone(),
                    seen,
                    base,
                }));
            proxy.register_push().await?;
            drop(permit);
            TarsResult::Ok((comm, proxy, log))
        });
    }
    let mut clients = Vec::with_capacity(opts.clients);
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok(client)) => clients.push(client),
            Ok(Err(e)) => fail(format!("push client: {e}")),
            Err(e) => fail(format!("push client task: {e}")),
        }
    }
    let registered = base.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(opts.warmup)).await;
    // Pushes must be flowing before the window opens (a slow rate may need a while).
    let patience = Instant::now() + Duration::from_secs_f64(5.0 + 2.0 / opts.rate.max(0.01));
    while seen.next_seq.load(Ordering::Relaxed) == 0 && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every push from `first` on was broadcast after all clients had registered.
    let first = seen.next_seq.load(Ordering::Relaxed);
    let stats0 = local.map(|l| l.stats.snapshot());
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
    let last = seen.next_seq.load(Ordering::Relaxed); // window: [first, last)
    let secs = t0.elapsed().as_secs_f64();
    let stats1 = local.map(|l| l.stats.snapshot());
    if let Some(l) = local {
        l.pushing.abort();
    }
    let rounds = last.saturating_sub(first);
    let expected = rounds * opts.clients as u64;
    let in_window = || -> u64 {
        clients
            .iter()
            .map(|(_, _, log)| {
                let entries = log.entries.lock().unwrap_or_else(|e| e.into_inner());
                entries
                    .iter()
                    .filter(|(seq, _, _)| (first..last).contains(seq))
                    .count() as u64
            })
            .sum()
    };
    // Let the last pushes arrive.
    let drain_until = Instant::now() + Duration::from_secs(5);
    while in_window() < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut hist = new_hist();
    let mut spread: Vec<(u64, u64)> = vec![(u64::MAX, 0); rounds as usize];
    let mut received = 0u64;
    for (_, _, log) in &clients {
        let entries = log.entries.lock().unwrap_or_else(|e| e.into_inner());
        for &(seq, latency, recv) in entries
            .iter()
            .filter(|(seq, _, _)| (first..last).contains(seq))
        {
            received += 1;
            hist.saturating_record((latency as u64).max(1));
            let s = &mut spread[(seq - first) as usize];
            s.0 = s.0.min(recv);
            s.1 = s.1.max(recv);
        }
    }
    let mut spreads = new_hist();
    for (lo, hi) in spread.iter().filter(|(lo, _)| *lo != u64::MAX) {
        spreads.saturating_record(((hi - lo) / 1000).max(1));
    }
    let mut report = Report {
        mode: if opts.burst {
            "push-burst".into()
        } else {
            "push".into()
        },
        calls: received,
        errors: expected.saturating_sub(received),
        secs,
        hist,
        extra: Map::new(),
    };
    let e = &mut report.extra;
    e.insert("clients".into(), json!(opts.clients));
    e.insert("rate".into(), json!(opts.rate));
    e.insert(
        "pushes_per_s".into(),
        json!((received as f64 / secs).round()),
    );
    e.insert("rounds".into(), json!(rounds));
    e.insert("expected".into(), json!(expected));
    e.insert("received".into(), json!(received));
    e.insert("lost".into(), json!(expected as i64 - received as i64));
    e.insert(
        "register_s".into(),
        json!(round(registered.as_secs_f64(), 1000.0)),
    );
    e.insert("spread_p50_us".into(), json!(quantile(&spreads, 0.5)));
    e.insert("spread_p90_us".into(), json!(quantile(&spreads, 0.9)));
    e.insert("spread_max_us".into(), json!(max(&spreads)));
    if let (Some(a), Some(b)) = (stats0, stats1) {
        let queued = b.queued - a.queued;
        let took = (b.broadcast_time - a.broadcast_time).as_secs_f64();
        e.insert(
            "broadcast_pushes_per_s".into(),
            json!(if took > 0.0 {
                (queued as f64 / took).round()
            } else {
                0.0
            }),
        );
        e.insert("push_failed".into(), json!(b.failed - a.failed));
    }
    if let (true, Some(l)) = (opts.burst, local) {
        // Back-to-back broadcasts of one frame, as fast as the registry takes them (the
        // clients ignore this frame: it carries no timestamp).
        let frame = push_callback::PushSender::push_msg_frame(0, "bulk");
        let n = (200_000 / opts.clients.max(1)).clamp(1, 1000);
        let began = Instant::now();
        let mut queued = 0;
        for _ in 0..n {
            queued += l.pusher.registry.broadcast(&frame).sent;
        }
        let took = began.elapsed().as_secs_f64();
        e.insert("b2b_broadcasts".into(), json!(n));
        e.insert(
            "b2b_pushes_per_s".into(),
            json!((queued as f64 / took).round()),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(clients);
    report.to_json()
}

/// The `push` mode.
pub fn main(rt: &tokio::runtime::Runtime) {
    let opts = PushOpts::from_flags();
    // Clients and an in-process server: two descriptors per client.
    raise_fd_limit(opts.clients as u64 * 2 + 512);
    if cli::switch("demo") {
        return crate::push_demo::main(rt, opts);
    }
    let (target, local) = match cli::flag("target") {
        Some(t) => (t, None),
        None => {
            let l = LocalPushServer::start(opts.rate);
            (l.target.clone(), Some(l))
        }
    };
    let row = rt.block_on(push_bench(opts, target, local.as_ref()));
    if let Some(l) = local {
        l.runtime.shutdown_background();
    }
    let columns = [
        "mode",
        "clients",
        "rate",
        "pushes_per_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "max_us",
        "lost",
        "spread_p50_us",
        "broadcast_pushes_per_s",
        "b2b_pushes_per_s",
    ];
    emit_one("push: pushMsg fan-out", &row, &columns);
}
