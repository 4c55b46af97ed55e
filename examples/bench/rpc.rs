//! The `rpc` mode: `testHello` against OBJ@ENDPOINTS (or an in-process bench server)
//! through the typed proxy or, with `--raw`, the pipelined client; `--vs-baseline` adds the
//! bare echo baseline and the ratios to it.

use crate::args::{fail, positionals, Load};
use crate::pipeline::run_pipelined;
use crate::report::{emit, round, RPC_COLUMNS};
use crate::rpc_raw::TarsWire;
use crate::sys::serve_in_process;
use crate::task_per_call::run_task_per_call;
use crate::{baseline, rpc_proxy};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tars_core::endpoint::ProxyTarget;
use tars_rs::cli;
use tars_rs::demo::quickstart::HELLO_OBJ;

/// The socket addresses of `target`'s endpoints; exits if there is none.
fn socket_addrs(target: &ProxyTarget) -> Vec<SocketAddr> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = target
        .endpoints
        .iter()
        .filter_map(|e| e.socket_addr_string().to_socket_addrs().ok()?.next())
        .collect();
    if addrs.is_empty() {
        fail("the target has no usable endpoint");
    }
    addrs
}

/// The `rpc` mode.
pub fn main(rt: &tokio::runtime::Runtime) {
    let load = Load::from_flags();
    let raw = cli::switch("raw");
    if cli::switch("task-per-call") && !raw {
        fail("--task-per-call is a mode of the raw client: add --raw");
    }
    let mut local = None;
    let target = match positionals().get(1) {
        // An object name without `@` is looked up once through `--locator`.
        Some(t) => rt.block_on(cli::resolve_target("bench", t)),
        None => {
            let (srv, server, _) = serve_in_process();
            let port = server.endpoint(HELLO_OBJ).expect("bound").port;
            local = Some((srv, server));
            format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port}")
        }
    };
    let parsed: ProxyTarget = target.parse().unwrap_or_else(|e| fail(e));
    let mut ours = if raw {
        let addrs = socket_addrs(&parsed);
        let wire = TarsWire::new(&parsed.object, load.payload);
        if cli::switch("task-per-call") {
            rt.block_on(run_task_per_call("rpc-raw-tasks", &addrs, wire, load))
        } else {
            rt.block_on(run_pipelined("rpc-raw", &addrs, wire, load))
        }
    } else {
        rt.block_on(rpc_proxy::rpc_proxy(&target, load))
    };
    ours.extra.insert(
        "server".into(),
        json!(if local.is_some() {
            "in-process".to_string()
        } else {
            target
        }),
    );
    let mut rows = vec![ours.to_json()];
    let mut result = ours.to_json();
    if cli::switch("vs-baseline") {
        let base = baseline::measure(rt, load);
        let ratio = if base.calls_per_s() > 0.0 {
            ours.calls_per_s() / base.calls_per_s()
        } else {
            0.0
        };
        let ratio = round(ratio, 1000.0);
        let p99_ratio = if base.pct(0.99) > 0 {
            ours.pct(0.99) as f64 / base.pct(0.99) as f64
        } else {
            0.0
        };
        rows[0].insert("ratio".into(), json!(ratio));
        rows.push(base.to_json());
        result.insert("baseline".into(), Value::Object(base.to_json()));
        result.insert("ratio".into(), json!(ratio));
        result.insert("p99_ratio".into(), json!(round(p99_ratio, 1000.0)));
    }
    if let Some((srv, _server)) = local {
        srv.shutdown_background();
    }
    emit("rpc: testHello", &rows, &[result], RPC_COLUMNS);
}
