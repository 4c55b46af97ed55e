//! Interop with the real Tars.js (`@tars/rpc` and `@tars/stream` from npm): a Tars.js client
//! calls our `hello_server` over TARS and TUP, and our `hello_client` calls a Tars.js server.

mod common;

use common::{example_bin, node, run_with_timeout, spawn_listening};
use std::process::Command;
use std::time::Duration;

const OBJ: &str = "Test.HelloServer.HelloObj";

fn assert_all_ok(what: &str, (success, output): (bool, String)) {
    let checks: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
        .collect();
    let failures: Vec<&&str> = checks.iter().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(
        success && failures.is_empty() && checks.len() >= 20,
        "{what} failed:\n{output}"
    );
}

fn rust_server() -> common::ChildGuard {
    let mut cmd = Command::new(example_bin("hello_server"));
    cmd.args(["--endpoint", "tcp -h 127.0.0.1 -p 0 -t 60000"]);
    spawn_listening(cmd)
}

#[test]
fn tarsjs_client_calls_rust_server_over_tars() {
    let server = rust_server();
    let target = format!("{OBJ}@tcp -h 127.0.0.1 -p {}", server.port);
    assert_all_ok(
        "Tars.js client (TARS)",
        run_with_timeout(node("hello_client.js", &[&target]), Duration::from_secs(60)),
    );
}

#[test]
fn tarsjs_client_calls_rust_server_over_tup() {
    let server = rust_server();
    let target = format!("{OBJ}@tcp -h 127.0.0.1 -p {}", server.port);
    assert_all_ok(
        "Tars.js client (TUP v3)",
        run_with_timeout(
            node("hello_client.js", &[&target, "--tup"]),
            Duration::from_secs(60),
        ),
    );
}

#[test]
fn rust_client_calls_tarsjs_server() {
    let server = spawn_listening(node("hello_server.js", &[]));
    let target = format!("{OBJ}@tcp -h 127.0.0.1 -p {}", server.port);
    for extra in [None, Some("--tup")] {
        let mut cmd = Command::new(example_bin("hello_client"));
        cmd.arg(&target).args(extra);
        assert_all_ok(
            &format!("hello_client {extra:?} against Tars.js"),
            run_with_timeout(cmd, Duration::from_secs(60)),
        );
    }
}
