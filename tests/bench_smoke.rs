//! The `bench` example, each mode run for about a second: it must exit 0 and print JSON
//! objects with the documented keys. No timing is asserted.

mod common;

use common::{bench_server, example_bin, run_with_timeout, spawn_listening};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const RPC_KEYS: &[&str] = &[
    "mode",
    "calls_per_s",
    "p50_us",
    "p99_us",
    "p999_us",
    "max_us",
];

/// Runs `bench ARGS --json` and returns its JSON lines.
fn bench(args: &[&str]) -> Vec<serde_json::Map<String, Value>> {
    let mut cmd = Command::new(example_bin("bench"));
    cmd.args(args).args(["--json", "--warmup", "0.2"]);
    let (ok, out) = run_with_timeout(cmd, LIMIT);
    assert!(ok, "bench {args:?} failed:\n{out}");
    let objects: Vec<_> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("bad JSON line {l}: {other:?}"),
        })
        .collect();
    assert!(
        !objects.is_empty(),
        "bench {args:?} printed no JSON:\n{out}"
    );
    objects
}

fn assert_keys(object: &serde_json::Map<String, Value>, keys: &[&str]) {
    for key in keys {
        assert!(object.contains_key(*key), "missing `{key}` in {object:?}");
    }
}

fn hello_target(port: u16) -> String {
    format!("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p {port}")
}

#[test]
fn rpc_through_the_proxy_against_bench_server() {
    let server = bench_server();
    let target = hello_target(server.port);
    let out = bench(&[
        "rpc",
        &target,
        "--payload",
        "10",
        "--connections",
        "2",
        "--in-flight",
        "4",
        "--seconds",
        "1",
    ]);
    assert_keys(&out[0], RPC_KEYS);
    assert_eq!(out[0]["mode"], "rpc");
    assert!(out[0]["calls"].as_u64().unwrap() > 0, "{:?}", out[0]);
    assert_eq!(out[0]["errors"], 0);
}

/// `rpc --raw` with `extra` flags against a bench_server, 2 x 8 for a second: calls are made
/// and none fails. Returns its result line.
fn raw_rpc(extra: &[&str]) -> serde_json::Map<String, Value> {
    let server = bench_server();
    let target = hello_target(server.port);
    let mut args = vec!["rpc", &target, "--raw"];
    args.extend_from_slice(extra);
    args.extend(["--connections", "2", "--in-flight", "8", "--seconds", "1"]);
    let out = bench(&args);
    assert_keys(&out[0], RPC_KEYS);
    assert!(out[0]["calls"].as_u64().unwrap() > 0, "{:?}", out[0]);
    assert_eq!(out[0]["errors"], 0);
    out[0].clone()
}

#[test]
fn rpc_raw_against_bench_server_with_baseline() {
    let row = raw_rpc(&["--vs-baseline"]);
    assert_eq!(row["mode"], "rpc-raw");
    let baseline = row["baseline"].as_object().expect("baseline object");
    assert_keys(baseline, RPC_KEYS);
    assert!(row["ratio"].is_number());
}

#[test]
fn rpc_raw_task_per_call_against_bench_server() {
    let row = raw_rpc(&["--task-per-call"]);
    assert_eq!(row["mode"], "rpc-raw-tasks");
}

/// `rpc` in-process at 2,000 calls/s (open loop) with `client` flags: calls are made, none
/// fails, and never more than were due in the window.
fn open_loop_keeps_to_its_rate(client: &[&str]) {
    let mut args = vec!["rpc"];
    args.extend_from_slice(client);
    args.extend([
        "--rate",
        "2000",
        "--connections",
        "2",
        "--in-flight",
        "16",
        "--seconds",
        "1",
    ]);
    let out = bench(&args);
    assert_keys(&out[0], RPC_KEYS);
    let calls = out[0]["calls"].as_u64().unwrap();
    assert!(calls > 0, "{:?}", out[0]);
    assert_eq!(out[0]["errors"], 0);
    let due = 2000.0 * out[0]["seconds"].as_f64().unwrap();
    assert!(
        calls as f64 <= due + 32.0,
        "{calls} calls, {due} due: {:?}",
        out[0]
    );
}

#[test]
fn rpc_proxy_open_loop_keeps_to_its_rate() {
    open_loop_keeps_to_its_rate(&[]);
}

#[test]
fn rpc_raw_open_loop_in_process() {
    open_loop_keeps_to_its_rate(&["--raw"]);
}

#[test]
fn baseline_runs() {
    let out = bench(&[
        "baseline",
        "--payload",
        "128",
        "--connections",
        "2",
        "--in-flight",
        "10",
        "--seconds",
        "1",
    ]);
    assert_keys(&out[0], RPC_KEYS);
    assert_eq!(out[0]["mode"], "baseline");
}

#[test]
fn push_with_few_clients() {
    let out = bench(&["push", "--clients", "5", "--rate", "50", "--seconds", "1"]);
    assert_keys(
        &out[0],
        &[
            "mode",
            "pushes_per_s",
            "p50_us",
            "p99_us",
            "max_us",
            "lost",
            "expected",
            "received",
        ],
    );
    assert!(out[0]["received"].as_u64().unwrap() > 0, "{:?}", out[0]);
}

#[test]
fn push_against_bench_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let push_endpoint = format!("tcp -h 127.0.0.1 -p {port} -t 60000");
    let mut cmd = Command::new(example_bin("bench_server"));
    cmd.args([
        "--endpoint",
        "tcp -h 127.0.0.1 -p 0",
        "--push-endpoint",
        &push_endpoint,
        "--push-rate",
        "50",
    ]);
    let _server = spawn_listening(cmd);
    let target = format!("TestApp.HelloServer.PushObj@tcp -h 127.0.0.1 -p {port}");
    let out = bench(&[
        "push",
        "--target",
        &target,
        "--clients",
        "3",
        "--seconds",
        "1",
    ]);
    assert_keys(&out[0], &["mode", "pushes_per_s", "p99_us", "lost"]);
    assert!(out[0]["received"].as_u64().unwrap() > 0, "{:?}", out[0]);
}

#[test]
fn codec_runs() {
    let out = bench(&["codec", "--seconds", "0.5"]);
    assert_eq!(out.len(), 2);
    for row in &out {
        assert_keys(row, &["mode", "bytes", "structs_per_s", "mb_per_s"]);
    }
}

/// `push --demo` against `floorserver`: its `registerPush` answers let every client
/// register, and every round of its pushes reaches every client.
#[test]
fn push_demo_against_the_floor_server() {
    let mut cmd = Command::new(example_bin("bench"));
    cmd.args([
        "floorserver",
        "--listen",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--interval-ms",
        "200",
    ]);
    let server = spawn_listening(cmd);
    let target = format!(
        "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p {}",
        server.port
    );
    let out = bench(&[
        "push",
        "--demo",
        "--clients",
        "20",
        "--rate",
        "5",
        "--seconds",
        "2",
        "--target",
        &target,
    ]);
    let row = &out[0];
    assert_eq!(row["mode"], "push-demo");
    assert!(row["rounds"].as_u64().unwrap() > 0, "{row:?}");
    assert!(row["received"].as_u64().unwrap() > 0, "{row:?}");
    assert_eq!(row["lost"], 0, "{row:?}");
}

/// `sendfloor` with readers: every round reaches every socket (it fails otherwise), and the
/// figures it reports are consistent.
#[test]
fn sendfloor_with_readers() {
    let out = bench(&[
        "sendfloor",
        "--sockets",
        "64",
        "--threads",
        "2",
        "--rounds",
        "3",
        "--readers",
    ]);
    let row = &out[0];
    assert_keys(
        row,
        &["mode", "sockets", "threads", "pass_ms_p50", "us_per_send"],
    );
    assert_eq!(row["mode"], "sendfloor");
    assert_eq!(row["sockets"], 64);
    let (min, p50) = (row["pass_ms_min"].as_f64(), row["pass_ms_p50"].as_f64());
    assert!(min.unwrap() > 0.0 && min <= p50, "{row:?}");
    assert!(row["spread_ms_p50"].as_f64().is_some(), "{row:?}");
}

#[test]
fn conns_against_bench_server() {
    let server = bench_server();
    let pid = server.child.id().to_string();
    let target = format!("127.0.0.1:{}", server.port);
    let out = bench(&[
        "conns", "--count", "200", "--pid", &pid, "--target", &target,
    ]);
    assert_keys(
        &out[0],
        &[
            "mode",
            "connections",
            "idle_bytes_per_conn",
            "after_call_bytes_per_conn",
        ],
    );
    assert_eq!(out[0]["ping_failures"], 0);
}
