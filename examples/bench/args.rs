//! The command line: the usage text, positional arguments, fatal errors and the flags of
//! each mode (`Load` for `rpc` and `baseline`, `PushOpts`, `ConnsOpts`).

use crate::measure::Window;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tars_rs::cli;
use tars_rs::demo::quickstart::HELLO_OBJ;

pub const USAGE: &str = "usage:
  bench rpc [OBJ@ENDPOINTS | OBJ --locator LOCATOR] [--empty-layers N] [--payload B] [--connections C] [--in-flight N] [--seconds S] [--rate R] [--raw [--task-per-call]] [--vs-baseline]
  bench baseline [--target HOST:PORT] [--payload B] [--connections C] [--in-flight N] [--seconds S] [--rate R]
  bench echo [--listen HOST:PORT]   (the baseline's bare echo in its own process, for `baseline --target`)
  bench push [--clients K] [--rate R] [--seconds S] [--target OBJ@EP] [--burst]
  bench push --demo [--clients K] [--rate R] [--seconds S] [--target OBJ@EP] [--gap-ms MS]
  bench conns --count N --pid PID [--target HOST:PORT] [--obj OBJ] [--func F]
  bench codec [--seconds S]
  bench sendfloor [--sockets N] [--threads T] [--rounds R] [--frame B] [--readers]   (the kernel's loopback send alone)
  bench floorserver [--listen HOST:PORT] [--threads T] [--interval-ms MS]   (a PushCallbackDemo server doing only blocking writes)
common: --json (one JSON object per result line), --warmup S (default 0.5)";

/// Flags that take a value (so the positional arguments can be told apart).
const VALUE_FLAGS: &[&str] = &[
    "payload",
    "connections",
    "in-flight",
    "seconds",
    "rate",
    "clients",
    "target",
    "listen",
    "count",
    "pid",
    "warmup",
    "obj",
    "drain",
    "locator",
    "empty-layers",
    "gap-ms",
    "func",
    "sockets",
    "threads",
    "rounds",
    "frame",
    "interval-ms",
];

/// The arguments that are neither flags nor flag values: the mode, then its target.
pub fn positionals() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if let Some(name) = a.strip_prefix("--") {
            if VALUE_FLAGS.contains(&name) {
                args.next();
            }
            continue;
        }
        out.push(a);
    }
    out
}

/// Prints `bench: MSG` to stderr and exits with status 1.
pub fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1)
}

/// Load shape shared by `rpc` and `baseline`.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub payload: usize,
    pub connections: usize,
    pub in_flight: usize,
    pub seconds: f64,
    pub warmup: f64,
    /// Calls per second over all connections (open loop); `None`: closed loop.
    pub rate: Option<f64>,
}

impl Load {
    /// Reads the load flags (`--payload`, `--connections`, ...).
    pub fn from_flags() -> Self {
        let rate: f64 = cli::number_flag("rate", 0.0);
        Load {
            payload: cli::number_flag("payload", 100),
            connections: cli::number_flag::<usize>("connections", 2).max(1),
            in_flight: cli::number_flag::<usize>("in-flight", 100).max(1),
            seconds: cli::number_flag("seconds", 5.0),
            warmup: cli::number_flag("warmup", 0.5),
            rate: (rate > 0.0).then_some(rate),
        }
    }

    /// The measurement window, opening after the warm-up from now.
    pub fn window(&self) -> Window {
        Window::new(
            Duration::from_secs_f64(self.warmup),
            Duration::from_secs_f64(self.seconds),
        )
    }

    /// Adds the load shape to a result.
    pub fn describe(&self, m: &mut Map<String, Value>) {
        m.insert("payload".into(), json!(self.payload));
        m.insert("connections".into(), json!(self.connections));
        m.insert("in_flight".into(), json!(self.in_flight));
        m.insert("rate".into(), json!(self.rate));
    }
}

/// Flags of `push`.
pub struct PushOpts {
    pub clients: usize,
    pub rate: f64,
    pub seconds: f64,
    pub warmup: f64,
    pub burst: bool,
}

impl PushOpts {
    /// Reads `--clients` (default 1000 with `--burst`, else 100), `--rate`, `--seconds`,
    /// `--warmup` and `--burst`.
    pub fn from_flags() -> Self {
        let burst = cli::switch("burst");
        PushOpts {
            clients: cli::number_flag("clients", if burst { 1000 } else { 100 }),
            rate: cli::number_flag("rate", 10.0),
            seconds: cli::number_flag("seconds", 5.0),
            warmup: cli::number_flag("warmup", 0.5),
            burst,
        }
    }
}

/// Flags of `conns`.
pub struct ConnsOpts {
    pub count: usize,
    pub pid: u32,
    pub target: SocketAddr,
    pub obj: String,
    /// The function called once on every connection (`tars_ping` unless `--func`).
    pub func: String,
}

impl ConnsOpts {
    /// Reads `--count`, `--pid` (required), `--target`, `--obj` and `--func`; exits on bad
    /// values.
    pub fn from_flags() -> Self {
        let count: usize = cli::number_flag("count", 1000);
        let Some(pid) = cli::flag("pid").and_then(|p| p.parse::<u32>().ok()) else {
            fail("conns needs --pid PID of the server")
        };
        let target: SocketAddr = cli::flag("target")
            .unwrap_or_else(|| "127.0.0.1:8999".into())
            .parse()
            .unwrap_or_else(|e| fail(format!("--target HOST:PORT: {e}")));
        let obj = cli::flag("obj").unwrap_or_else(|| HELLO_OBJ.into());
        let func = cli::flag("func").unwrap_or_else(|| tars_core::protocol::TARS_PING.into());
        ConnsOpts {
            count,
            pid,
            target,
            obj,
            func,
        }
    }
}
