//! Benchmarks of tars-rs: RPC throughput and latency (typed proxy or a lean pipelined client),
//! a bare length-prefixed echo baseline, push fan-out, memory per connection and codec speed.
//!
//! ```sh
//! # against a running bench_server (or any TARS server with TestApp's Hello, TarsCpp's
//! # QuickStartDemo included)
//! bench rpc "TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 8999" --payload 100 \
//!     --connections 2 --in-flight 100 --seconds 10 [--rate R] [--raw [--task-per-call]] [--vs-baseline]
//! bench baseline --payload 100 --connections 2 --in-flight 100 --seconds 10
//! bench echo --listen 127.0.0.1:29999   # the bare echo in its own process (for `baseline --target`)
//! bench push --clients 1000 --rate 10 --seconds 10 [--target OBJ@EP] [--burst]
//! bench push --demo --clients 1000 --rate 1 --target "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p 9316"
//! bench conns --count 5000 --pid PID [--target 127.0.0.1:8999]
//! bench codec [--seconds 2]
//! bench sendfloor --sockets 1000 --threads 2 [--readers]   # the kernel's own cost of a fan-out
//! bench floorserver --listen 127.0.0.1:29317 --threads 2    # the least a PushCallbackDemo server does
//! ```
//! Every mode prints a table; `--json` prints one JSON object per result line instead (the
//! table then goes to stderr). Every mode stops by itself and talks to loopback only.
//! Without a target, `rpc` starts a bench server in-process (on its own runtime).
//!
//! One module per concept: `args` (command line), `measure` (window, per-task figures),
//! `report` (histograms, table, JSON), `sys` (fd limit, in-process servers), `rpc` (the
//! mode) with `rpc_proxy` and `rpc_raw`, `pipeline` (the lean client of `rpc --raw` and
//! `baseline`), `task_per_call` (the floor of a client with a task per call: `rpc --raw
//! --task-per-call`), `baseline`, `push` (with `push_demo`), `conns`, `codec`, `sendfloor` (the kernel's
//! loopback `write` alone, the floor under a push fan-out) and `floor_server` (a
//! PushCallbackDemo server that does nothing but pre-encoded blocking writes, for `push --demo`).

mod args;
mod baseline;
mod codec;
mod conns;
mod floor_server;
mod measure;
mod pipeline;
mod push;
mod push_demo;
mod report;
mod rpc;
mod rpc_proxy;
mod rpc_raw;
mod sendfloor;
mod sys;
mod task_per_call;

use args::{positionals, USAGE};
use tars_rs::cli;

fn main() {
    cli::init_logging();
    let Some(mode) = positionals().first().cloned() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match mode.as_str() {
        "rpc" => rpc::main(&rt),
        "baseline" => baseline::main(&rt),
        "echo" => baseline::serve_echo(&rt),
        "push" => push::main(&rt),
        "conns" => conns::main(&rt),
        "codec" => codec::main(),
        "sendfloor" => sendfloor::main(),
        "floorserver" => floor_server::main(),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
