//! `push --demo`: drives any server with TarsCpp's PushCallbackDemo interface
//! (`TestApp.PushCallbackServer.PushObj`: `registerPush`, then `pushMsg(out string sRsp)`
//! pushes that carry no timestamp), TarsCpp's PushCallbackServer and `push_callback_server`
//! alike, so both are measured by the same client.
//!
//! The server pushes on its own clock, so rounds are told apart by silence: a receive more
//! than `--gap-ms` after the previous one (any client) starts a new round. Per round: the
//! spread (last receive − first receive), the clients that got it (loss = clients − those),
//! and each client's lag behind the round's first receive (the latency columns).

use crate::args::{fail, PushOpts};
use crate::report::{emit_one, max, new_hist, quantile, round, Report};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tars_core::prelude::*;
use tars_rs::cli;
use tars_rs::demo::push_callback::{self, PushPrxCallback, PushPrxDispatcher};
use tokio::sync::Semaphore;

/// Receive times (ns after the bench's start) of one client's pushes.
struct Arrivals {
    base: Instant,
    times: Arc<Mutex<Vec<u64>>>,
}

impl PushPrxCallback for Arrivals {
    fn callback_push_msg(&self, _ret: i32, _s_rsp: String) {
        let at = self.base.elapsed().as_nanos() as u64;
        self.times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(at);
    }
}

type Client = (
    Communicator,
    push_callback::HelloProxy,
    Arc<Mutex<Vec<u64>>>,
);

async fn connect(target: &str, clients: usize, base: Instant) -> Vec<Client> {
    let connecting = Arc::new(Semaphore::new(256));
    let mut joins = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let permit = connecting.clone().acquire_owned().await.expect("open");
        let target = target.to_string();
        joins.spawn(async move {
            let comm = Communicator::new();
            let proxy: push_callback::HelloProxy = comm.string_to_proxy(&target)?;
            let times = Arc::new(Mutex::new(Vec::new()));
            let arrivals = Arrivals {
                base,
                times: times.clone(),
            };
            let dispatcher = PushPrxDispatcher::new(arrivals);
            proxy.servant_proxy().set_push_callback(dispatcher);
            proxy.register_push().await?;
            drop(permit);
            TarsResult::Ok((comm, proxy, times))
        });
    }
    let mut out = Vec::with_capacity(clients);
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok(client)) => out.push(client),
            Ok(Err(e)) => fail(format!("push client: {e}")),
            Err(e) => fail(format!("push client task: {e}")),
        }
    }
    out
}

/// Splits `(time, client)` receives, sorted by time, into rounds at gaps over `gap` ns.
fn rounds(sorted: &[(u64, u32)], gap: u64) -> Vec<&[(u64, u32)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i].0 - sorted[i - 1].0 > gap {
            out.push(&sorted[start..i]);
            start = i;
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

async fn measure(opts: &PushOpts, target: &str, gap: Duration) -> Map<String, Value> {
    let base = Instant::now();
    let clients = connect(target, opts.clients, base).await;
    let registered = base.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(opts.warmup)).await;
    let t0 = base.elapsed().as_nanos() as u64;
    tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
    let t1 = base.elapsed().as_nanos() as u64;
    // A round that began inside the window finishes within a gap of silence.
    tokio::time::sleep(gap * 4).await;
    let mut all: Vec<(u64, u32)> = Vec::new();
    for (i, (_, _, times)) in clients.iter().enumerate() {
        let times = times.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(times.iter().map(|&t| (t, i as u32)));
    }
    all.sort_unstable();
    // Rounds that began in the window, after a gap of silence (not mid-way through one).
    let gap_ns = gap.as_nanos() as u64;
    let all_rounds = rounds(&all, gap_ns);
    let mut kept = Vec::new();
    for (i, r) in all_rounds.iter().enumerate() {
        let began = r[0].0;
        let after_silence = i > 0 && began - all_rounds[i - 1].last().expect("round").0 > gap_ns;
        if began >= t0 && began < t1 && after_silence {
            kept.push(*r);
        }
    }
    let (mut lag, mut spreads) = (new_hist(), new_hist());
    let (mut received, mut seen) = (0u64, vec![u32::MAX; clients.len()]);
    for (n, r) in kept.iter().enumerate() {
        let first = r[0].0;
        spreads.saturating_record(((r[r.len() - 1].0 - first) / 1000).max(1));
        for &(t, c) in r.iter() {
            if seen[c as usize] != n as u32 {
                seen[c as usize] = n as u32;
                received += 1;
                lag.saturating_record(((t - first) / 1000).max(1));
            }
        }
    }
    let expected = kept.len() as u64 * clients.len() as u64;
    let secs = (t1 - t0) as f64 / 1e9;
    let mut report = Report {
        mode: "push-demo".into(),
        calls: received,
        errors: expected.saturating_sub(received),
        secs,
        hist: lag,
        extra: Map::new(),
    };
    let e = &mut report.extra;
    e.insert("target".into(), json!(target));
    e.insert("clients".into(), json!(clients.len()));
    e.insert("gap_ms".into(), json!(gap.as_millis() as u64));
    e.insert("rounds".into(), json!(kept.len()));
    e.insert("expected".into(), json!(expected));
    e.insert("received".into(), json!(received));
    e.insert("lost".into(), json!(expected as i64 - received as i64));
    e.insert(
        "pushes_per_s".into(),
        json!((received as f64 / secs).round()),
    );
    let register_s = round(registered.as_secs_f64(), 1000.0);
    e.insert("register_s".into(), json!(register_s));
    e.insert("spread_p50_us".into(), json!(quantile(&spreads, 0.5)));
    e.insert("spread_p90_us".into(), json!(quantile(&spreads, 0.9)));
    e.insert("spread_max_us".into(), json!(max(&spreads)));
    drop(clients);
    report.to_json()
}

/// The `push --demo` mode: `--target` (default: an in-process PushCallbackDemo server
/// pushing `--rate` rounds per second), `--gap-ms` (default half the period of `--rate`).
pub fn main(rt: &tokio::runtime::Runtime, opts: PushOpts) {
    let period = Duration::from_secs_f64(1.0 / opts.rate.max(0.01));
    let gap = Duration::from_millis(cli::number_flag("gap-ms", period.as_millis() as u64 / 2));
    let mut local = None;
    let target = match cli::flag("target") {
        Some(t) => t,
        None => {
            let (runtime, server, pusher) = crate::sys::serve_in_process();
            let port = server
                .endpoint(tars_rs::demo::quickstart::PUSH_OBJ)
                .expect("bound")
                .port;
            let pushing = {
                let _in = runtime.enter();
                pusher.start_pushing(period)
            };
            local = Some((runtime, server, pushing));
            let obj = tars_rs::demo::quickstart::PUSH_OBJ;
            format!("{obj}@tcp -h 127.0.0.1 -p {port}")
        }
    };
    let row = rt.block_on(measure(&opts, &target, gap.max(Duration::from_millis(1))));
    if let Some((runtime, _server, pushing)) = local {
        pushing.abort();
        runtime.shutdown_background();
    }
    let columns = [
        "mode",
        "clients",
        "rounds",
        "pushes_per_s",
        "p50_us",
        "p99_us",
        "max_us",
        "lost",
        "spread_p50_us",
        "spread_p90_us",
        "spread_max_us",
    ];
    emit_one(
        "push --demo: PushCallbackDemo fan-out (latency = lag behind the round's first receive)",
        &row,
        &columns,
    );
}
