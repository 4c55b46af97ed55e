//! `sendfloor`: what the kernel alone costs to hand one frame to many loopback TCP sockets,
//! the floor under every push fan-out on this machine. No TARS code runs: `--sockets` pairs
//! of connected loopback sockets; per round, `--threads` plain threads each `write` one
//! `--frame`-byte frame on their share of the sending sockets. With `--readers`, the
//! receiving sockets are read by tasks on a runtime of two workers (as push clients would),
//! and the round's spread (first to last receive, as `push --demo` measures it) is
//! reported too.

use crate::args::fail;
use crate::report::{emit_one, round};
use crate::sys::raise_fd_limit;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tars_rs::cli;

const COLUMNS: &[&str] = &[
    "mode",
    "sockets",
    "threads",
    "readers",
    "frame",
    "rounds",
    "pass_ms_p50",
    "pass_ms_min",
    "pass_ms_max",
    "us_per_send",
    "spread_ms_p50",
    "spread_ms_p90",
];

/// Opens `n` connected loopback pairs: (sending ends, receiving ends).
fn pairs(n: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(e));
    let addr = listener.local_addr().unwrap_or_else(|e| fail(e));
    let accept = std::thread::spawn(move || {
        (0..n)
            .map(|_| listener.accept().map(|(s, _)| s))
            .collect::<std::io::Result<Vec<_>>>()
    });
    let senders: Vec<TcpStream> = (0..n)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap_or_else(|e| fail(format!("connect: {e}")));
            let _ = s.set_nodelay(true);
            s
        })
        .collect();
    let receivers = accept
        .join()
        .unwrap_or_else(|_| fail("accept thread panicked"))
        .unwrap_or_else(|e| fail(format!("accept: {e}")));
    (senders, receivers)
}

/// When each receiving socket last got bytes (ns after `base`), and how many reads came.
struct Receipts {
    base: Instant,
    at: Vec<AtomicU64>,
    reads: AtomicUsize,
}

/// Reads every receiving socket on `rt`, noting each read in `receipts`.
fn start_readers(
    rt: &tokio::runtime::Runtime,
    receivers: Vec<TcpStream>,
    receipts: &Arc<Receipts>,
) {
    for (i, s) in receivers.into_iter().enumerate() {
        s.set_nonblocking(true).unwrap_or_else(|e| fail(e));
        let receipts = receipts.clone();
        rt.spawn(async move {
            use tokio::io::AsyncReadExt;
            let Ok(mut s) = tokio::net::TcpStream::from_std(s) else {
                return;
            };
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    return;
                }
                let ns = receipts.base.elapsed().as_nanos() as u64;
                receipts.at[i].store(ns, Ordering::Relaxed);
                receipts.reads.fetch_add(1, Ordering::Release);
            }
        });
    }
}

/// One round: `threads` threads write `frame` on contiguous shares of `socks`. Returns the
/// wall time from the start to the last thread's end, and how many writes failed.
pub fn write_each(socks: &[TcpStream], threads: usize, frame: &[u8]) -> (Duration, usize) {
    let share = socks.len().div_ceil(threads.max(1)).max(1);
    let start = Instant::now();
    let failed = std::thread::scope(|scope| {
        let parts: Vec<_> = socks
            .chunks(share)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter(|s| {
                            let mut s: &TcpStream = s;
                            s.write_all(frame).is_err()
                        })
                        .count()
                })
            })
            .collect();
        parts.into_iter().map(|p| p.join().unwrap_or(0)).sum()
    });
    (start.elapsed(), failed)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The value at quantile `q` of `v` (sorted here).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Runs the mode: `--sockets N` (default 1000), `--threads T` (1), `--rounds R` (10),
/// `--frame B` (52: a short push), `--readers`.
pub fn main() {
    let sockets: usize = cli::number_flag::<usize>("sockets", 1000).max(1);
    let threads: usize = cli::number_flag::<usize>("threads", 1).clamp(1, sockets);
    let rounds: usize = cli::number_flag::<usize>("rounds", 10).max(1);
    let frame = vec![0x5au8; cli::number_flag::<usize>("frame", 52).max(1)];
    let readers = cli::switch("readers");
    let limit = raise_fd_limit(2 * sockets as u64 + 64);
    if limit < 2 * sockets as u64 + 16 {
        fail(format!(
            "{sockets} socket pairs need {} descriptors; the limit is {limit}",
            2 * sockets + 16
        ));
    }
    let (senders, receivers) = pairs(sockets);
    let receipts = Arc::new(Receipts {
        base: Instant::now(),
        at: (0..sockets).map(|_| AtomicU64::new(0)).collect(),
        reads: AtomicUsize::new(0),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()
        .unwrap_or_else(|e| fail(e));
    // Without readers the receiving ends only hold what arrives (a few bytes a round).
    let _held = if readers {
        start_readers(&rt, receivers, &receipts);
        Vec::new()
    } else {
        receivers
    };
    let (mut passes, mut spreads) = (Vec::new(), Vec::new());
    for r in 0..=rounds {
        let reads_before = receipts.reads.load(Ordering::Acquire);
        let (pass, failed) = write_each(&senders, threads, &frame);
        if failed > 0 {
            fail(format!("{failed} writes failed"));
        }
        if readers {
            let deadline = Instant::now() + Duration::from_secs(10);
            while receipts.reads.load(Ordering::Acquire) < reads_before + sockets {
                if Instant::now() > deadline {
                    fail("the readers did not get every frame within 10 s");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let at: Vec<u64> = receipts
                .at
                .iter()
                .map(|a| a.load(Ordering::Relaxed))
                .collect();
            let spread = at.iter().max().unwrap_or(&0) - at.iter().min().unwrap_or(&0);
            if r > 0 {
                spreads.push(spread as f64 / 1e6);
            }
        }
        // Round 0 warms the sockets and the threads up.
        if r > 0 {
            passes.push(ms(pass));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let p50 = quantile(&mut passes, 0.5);
    let mut row = Map::new();
    row.insert("mode".into(), json!("sendfloor"));
    row.insert("sockets".into(), json!(sockets));
    row.insert("threads".into(), json!(threads));
    row.insert("readers".into(), json!(readers));
    row.insert("frame".into(), json!(frame.len()));
    row.insert("rounds".into(), json!(rounds));
    row.insert("pass_ms_p50".into(), json!(round(p50, 1000.0)));
    row.insert(
        "pass_ms_min".into(),
        json!(round(quantile(&mut passes, 0.0), 1000.0)),
    );
    row.insert(
        "pass_ms_max".into(),
        json!(round(quantile(&mut passes, 1.0), 1000.0)),
    );
    // Wall time one thread spent per `write` (its share of the sockets in the median pass).
    let per_send = p50 * 1e3 * threads as f64 / sockets as f64;
    row.insert("us_per_send".into(), json!(round(per_send, 100.0)));
    let spread = |q| match spreads.is_empty() {
        true => Value::Null,
        false => json!(round(quantile(&mut spreads.clone(), q), 1000.0)),
    };
    row.insert("spread_ms_p50".into(), spread(0.5));
    row.insert("spread_ms_p90".into(), spread(0.9));
    emit_one(
        "sendfloor (the kernel's loopback send, no TARS code)",
        &row,
        COLUMNS,
    );
    rt.shutdown_background();
}
