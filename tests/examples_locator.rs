//! The client examples' `--locator`, driven as programs: each resolves an object name (no
//! `@`) through the fake tarsregistry of `tests/node/fake_registry.js` and reaches the
//! example servers the registry lists.

mod common;

use common::fake_registry::FakeRegistry;
use common::{example_bin, run_with_timeout, spawn_listening, ChildGuard};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const PUSH_LINE: &str = "push ret=0 sRsp=push message";

fn server(example: &str, extra: &[&str]) -> ChildGuard {
    let mut cmd = Command::new(example_bin(example));
    cmd.args(["--endpoint", "tcp -h 127.0.0.1 -p 0 -t 60000"])
        .args(extra);
    spawn_listening(cmd)
}

#[test]
fn hello_client_calls_by_name() {
    let hello = server("hello_server", &[]);
    let mut registry = FakeRegistry::start(0);
    registry.set("Test.HelloServer.HelloObj", &[hello.port], &[]);
    let mut client = Command::new(example_bin("hello_client"));
    client.args([
        "--locator",
        &registry.locator(),
        "Test.HelloServer.HelloObj",
    ]);
    let (ok, out) = run_with_timeout(client, LIMIT);
    assert!(ok, "hello_client failed:\n{out}");
    assert!(out.lines().any(|l| l.ends_with(" 0 failed")), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("FAIL ")), "{out}");
    let lookups = registry.wait_lookups(1);
    assert!(
        lookups[0]["func"] == "findObjectByIdInSameGroup"
            && lookups[0]["id"] == "Test.HelloServer.HelloObj",
        "{lookups:?}"
    );
}

#[test]
fn hello_client_by_name_without_a_locator_is_refused() {
    let client_cmd = || {
        let mut c = Command::new(example_bin("hello_client"));
        c.arg("Test.HelloServer.HelloObj");
        c
    };
    let (ok, out) = run_with_timeout(client_cmd(), LIMIT);
    assert!(!ok, "no endpoint and no locator: {out}");
    assert!(out.contains("no locator is configured"), "{out}");
}

#[test]
fn push_callback_client_subscribes_on_every_instance() {
    let a = server("push_callback_server", &["--interval-ms", "100"]);
    let b = server("push_callback_server", &["--interval-ms", "100"]);
    let mut registry = FakeRegistry::start(0);
    registry.set("TestApp.PushCallbackServer.PushObj", &[a.port, b.port], &[]);
    let mut client = Command::new(example_bin("push_callback_client"));
    client
        .args([
            "--locator",
            &registry.locator(),
            "TestApp.PushCallbackServer.PushObj",
            "--all-endpoints",
            "--count",
            "6",
        ])
        .env("RUST_LOG", "info");
    let (ok, out) = run_with_timeout(client, LIMIT);
    assert!(ok, "push_callback_client failed:\n{out}");
    let (stdout, stderr) = out.split_once("\n--- stderr ---\n").unwrap();
    assert_eq!(
        stdout.lines().filter(|l| *l == PUSH_LINE).count(),
        6,
        "{out}"
    );
    assert!(
        stdout.lines().all(|l| l.is_empty() || l == PUSH_LINE),
        "{out}"
    );
    // Subscribed on both instances: a connection to each, and two registerPush answers.
    for port in [a.port, b.port] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("connected") && l.contains(&format!("-p {port} "))),
            "no connection to {port}:\n{stderr}"
        );
    }
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains("registerPush answered"))
            .count()
            >= 2,
        "{stderr}"
    );
    let lookups = registry.wait_lookups(1);
    assert!(
        lookups[0]["func"] == "findObjectById4All",
        "all endpoints are asked for with findObjectById4All: {lookups:?}"
    );
}

#[test]
fn bench_rpc_calls_by_name() {
    let bench_server = common::bench_server();
    let mut registry = FakeRegistry::start(0);
    registry.set("TestApp.HelloServer.HelloObj", &[bench_server.port], &[]);
    let mut bench = Command::new(example_bin("bench"));
    bench.args([
        "rpc",
        "TestApp.HelloServer.HelloObj",
        "--locator",
        &registry.locator(),
        "--seconds",
        "1",
        "--warmup",
        "0.2",
        "--json",
    ]);
    let (ok, out) = run_with_timeout(bench, LIMIT);
    assert!(ok, "bench failed:\n{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line:\n{out}"));
    let row: serde_json::Value = serde_json::from_str(row).unwrap();
    assert!(row["calls_per_s"].as_f64().unwrap() > 0.0, "{row}");
    let server = format!(
        "TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p {}",
        bench_server.port
    );
    assert!(
        row["server"].as_str().unwrap().starts_with(&server),
        "the registry's endpoint: {row}"
    );
}
