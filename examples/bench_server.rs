//! The server the benchmarks drive: TarsCpp's QuickStartDemo `TestApp.HelloServer.HelloObj`
//! (`test`, `testHello`) and, on a second endpoint, the push servant
//! `TestApp.HelloServer.PushObj` (`registerPush`) broadcasting `--push-rate` timed pushes per
//! second to every registered connection.
//!
//! ```sh
//! cargo run --release --example bench_server -- --endpoint "tcp -h 127.0.0.1 -p 8999 -t 60000" \
//!     --push-endpoint "tcp -h 127.0.0.1 -p 9000 -t 60000" --push-rate 10
//! ```
//! Prints `listening tcp -h HOST -p PORT` (the Hello endpoint), then
//! `push tcp -h HOST -p PORT`; serves until SIGINT/SIGTERM, then (with `--push-rate`) prints
//! one JSON line of its broadcast totals (`"mode":"push-server"`). It raises its own open-file limit
//! as far as it may, so it can hold many connections (`bench conns`).

use std::io::Write;
use std::sync::Arc;
use tars_rs::cli;
use tars_rs::demo::quickstart::{self, PushStats, HELLO_OBJ, PUSH_OBJ};

fn raise_fd_limit() -> u64 {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        return 0;
    };
    // As root the hard limit itself may be raised (up to fs.nr_open).
    let want = 1 << 20;
    if hard < want && Resource::NOFILE.set(want, want).is_ok() {
        return want;
    }
    if soft < hard && Resource::NOFILE.set(hard, hard).is_ok() {
        return hard;
    }
    soft
}

#[tokio::main]
async fn main() {
    cli::init_logging();
    let endpoint =
        cli::flag("endpoint").unwrap_or_else(|| "tcp -h 127.0.0.1 -p 8999 -t 60000".into());
    let push_endpoint =
        cli::flag("push-endpoint").unwrap_or_else(|| "tcp -h 127.0.0.1 -p 9000 -t 60000".into());
    let push_rate: f64 = cli::number_flag("push-rate", 0.0);
    let fd_limit = raise_fd_limit();
    let (server, pusher) = match quickstart::serve(&endpoint, &push_endpoint).await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("bench_server: {e}");
            std::process::exit(1);
        }
    };
    let ep = server.endpoint(HELLO_OBJ).expect("adapter bound");
    let push_ep = server.endpoint(PUSH_OBJ).expect("adapter bound");
    println!("listening tcp -h {} -p {}", ep.host, ep.port);
    println!("push tcp -h {} -p {}", push_ep.host, push_ep.port);
    println!("fd limit {fd_limit}");
    let _ = std::io::stdout().flush();
    let stats = Arc::new(PushStats::default());
    let pushing = quickstart::start_timed_pushing(&pusher, push_rate, stats.clone());
    cli::shutdown_signal().await;
    pushing.abort();
    let t = stats.snapshot();
    if t.rounds > 0 {
        // One JSON line on stdout: what the broadcasts cost on the server (`bench/push.sh`
        // records it beside the clients' figures). "Paced" pushes/s: pushes queued per
        // second spent inside `broadcast`, over all broadcasts and over those that reached
        // (within 1 %) the most connections, i.e. once every client had registered.
        let rate = |n: u64, d: std::time::Duration| {
            let s = d.as_secs_f64();
            if s > 0.0 {
                (n as f64 / s).round()
            } else {
                0.0
            }
        };
        println!(
            "{{\"mode\":\"push-server\",\"broadcasts\":{},\"queued\":{},\"failed\":{},\"broadcast_s\":{:.6},\"broadcast_pushes_per_s\":{},\"peak_connections\":{},\"at_peak_pushes_per_s\":{}}}",
            t.rounds,
            t.queued,
            t.failed,
            t.broadcast_time.as_secs_f64(),
            rate(t.queued, t.broadcast_time),
            t.peak,
            rate(t.at_peak_queued, t.at_peak_time)
        );
    }
    server.shutdown().await;
}
