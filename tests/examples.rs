//! The examples driven as other programs drive them: by their flags and printed lines.

mod common;

use common::{example_bin, run_with_timeout, spawn_listening};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn push_callback_client_receives_pushes() {
    let mut server = Command::new(example_bin("push_callback_server"));
    server.args([
        "--endpoint",
        "tcp -h 127.0.0.1 -p 0 -t 60000",
        "--interval-ms",
        "100",
    ]);
    let server = spawn_listening(server);
    let mut client = Command::new(example_bin("push_callback_client"));
    client
        .arg(format!(
            "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p {}",
            server.port
        ))
        .args(["--count", "3"]);
    let (ok, out) = run_with_timeout(client, Duration::from_secs(60));
    assert!(ok, "client failed:\n{out}");
    let pushes = out
        .lines()
        .filter(|l| *l == "push ret=0 sRsp=push message")
        .count();
    assert_eq!(pushes, 3, "{out}");
}

#[test]
fn push_callback_client_survives_server_restart() {
    let port = free_port();
    let endpoint = format!("tcp -h 127.0.0.1 -p {port} -t 60000");
    let server_cmd = || {
        let mut c = Command::new(example_bin("push_callback_server"));
        c.args(["--endpoint", &endpoint, "--interval-ms", "100"]);
        c
    };
    let mut server = spawn_listening(server_cmd());
    let mut client = Command::new(example_bin("push_callback_client"))
        .arg(format!(
            "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p {port}"
        ))
        .args(["--count", "10", "--timeout-ms", "30000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        assert_eq!(
            lines.next().unwrap().unwrap(),
            "push ret=0 sRsp=push message"
        );
    }
    assert!(server.terminate().success(), "graceful shutdown exits 0");
    let _server = spawn_listening(server_cmd());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest.len(), 7, "pushes resumed after the restart: {rest:?}");
    assert!(client.wait().unwrap().success());
}

#[test]
fn push_client_gets_responses_and_pushes() {
    let mut server = Command::new(example_bin("push_server"));
    server.args([
        "--endpoint",
        "tcp -h 127.0.0.1 -p 0 -t 60000",
        "--push-interval-ms",
        "150",
    ]);
    let server = spawn_listening(server);
    let mut client = Command::new(example_bin("push_client"));
    client
        .arg(format!(
            "TestApp.PushServer.TestPushServantObj@tcp -h 127.0.0.1 -p {}",
            server.port
        ))
        .args(["--heartbeat-ms", "50", "--count", "3"]);
    let (ok, out) = run_with_timeout(client, Duration::from_secs(60));
    assert!(ok, "client failed:\n{out}");
    assert_eq!(
        out.lines()
            .filter(|l| *l == "push body=hello world")
            .count(),
        3,
        "{out}"
    );
    assert!(
        out.lines().any(|l| l == "response id=1 body=heartbeat"),
        "{out}"
    );
}

#[test]
fn push_demo_runs() {
    let mut demo = Command::new(example_bin("push_demo"));
    demo.args(["--interval-ms", "50", "--count", "3"]);
    let (ok, out) = run_with_timeout(demo, Duration::from_secs(60));
    assert!(ok, "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| *l == "push ret=0 sRsp=push message")
            .count(),
        3,
        "{out}"
    );
}
