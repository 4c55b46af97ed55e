//! Helpers shared by the integration tests: the built example binaries, child processes that
//! print `listening tcp -h H -p PORT`, and the Tars.js peer from npm.
#![allow(dead_code)]

pub mod certs;
pub mod conn;
pub mod fake;
pub mod fake_registry;
pub mod fake_stat;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Path of a built example (cargo builds examples before integration tests).
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "example {name} not built at {}",
        path.display()
    );
    path
}

/// A child process killed when dropped.
pub struct ChildGuard {
    pub child: Child,
    /// The port it announced with `listening tcp -h H -p PORT`, if any.
    pub port: u16,
    pub stdout_rest: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildGuard {
    /// Sends SIGTERM (graceful stop) and waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait child")
    }

    /// Sends SIGTERM without waiting for the exit.
    pub fn signal_term(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits (up to `limit`) for the process to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait child") {
                return Some(status);
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `cmd`, waits (up to 60 s) for its `listening tcp -h H -p PORT` line and returns it
/// with that port. Later stdout lines are collected in the background.
pub fn spawn_listening(mut cmd: Command) -> ChildGuard {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let rest = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut port_sent = false;
        let mut rest = Vec::new();
        for line in lines.by_ref().map_while(Result::ok) {
            if !port_sent {
                if let Some(port) = line
                    .strip_prefix("listening tcp -h ")
                    .and_then(|l| l.rsplit(' ').next())
                {
                    let _ = tx.send(port.parse::<u16>().ok());
                    port_sent = true;
                    continue;
                }
            }
            rest.push(line);
        }
        if !port_sent {
            let _ = tx.send(None);
        }
        rest
    });
    let port = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(port)) => port,
        other => {
            let _ = child.kill();
            panic!("{cmd:?} did not print `listening tcp -h H -p PORT` ({other:?})");
        }
    };
    ChildGuard {
        child,
        port,
        stdout_rest: Some(rest),
    }
}

/// Starts the `bench_server` example (Hello and Push objects on free ports).
pub fn bench_server() -> ChildGuard {
    let mut cmd = Command::new(example_bin("bench_server"));
    cmd.args([
        "--endpoint",
        "tcp -h 127.0.0.1 -p 0 -t 60000",
        "--push-endpoint",
        "tcp -h 127.0.0.1 -p 0 -t 60000",
    ]);
    spawn_listening(cmd)
}

/// Runs `cmd` to completion within `limit`, returning (success, stdout).
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> (bool, String) {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            return (
                status.success(),
                format!("{stdout}\n--- stderr ---\n{stderr}"),
            );
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            return (
                false,
                format!(
                    "timed out after {limit:?}\n{}",
                    String::from_utf8_lossy(&out.stdout)
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tests/node`, with `@tars/stream`, `@tars/rpc` and `@tars/utils` installed from npm (once per test
/// process; concurrent test processes are serialised by npm's own locking and the retry).
/// Panics with a clear message when node or npm is missing: interop tests never skip.
pub fn node_peer_dir() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    READY
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("node");
            let installed = |d: &Path| {
                d.join("node_modules/@tars/stream/package.json").exists()
                    && d.join("node_modules/@tars/rpc/package.json").exists()
                    && d.join("node_modules/@tars/utils/package.json").exists()
            };
            for attempt in 0..3 {
                if installed(&dir) {
                    break;
                }
                let sub = if attempt == 0 { "ci" } else { "install" };
                let status = Command::new("npm")
                    .args([sub, "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir)
                    .status()
                    .unwrap_or_else(|e| {
                        panic!("npm is required for the Tars.js interop tests: {e}")
                    });
                if !status.success() {
                    eprintln!("npm {sub} failed in {} (attempt {attempt})", dir.display());
                }
            }
            assert!(
                installed(&dir),
                "could not install @tars/stream, @tars/rpc and @tars/utils in {}",
                dir.display()
            );
            dir
        })
        .clone()
}

/// A `node SCRIPT args...` command run in `tests/node`.
pub fn node(script: &str, args: &[&str]) -> Command {
    let dir = node_peer_dir();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).args(args).current_dir(dir);
    cmd
}

/// How long any single wait of an async test may take.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Awaits `fut`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

/// Polls `cond` every 10 ms until it holds, failing the test after [`LIMIT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// A `Test.HelloServer.HelloObj` server (the demo `HelloImpl`) on
/// `tcp -h 127.0.0.1 -p 0 -t 60000`, and its port.
pub async fn hello_server() -> (tars_core::Server, u16) {
    use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};
    let server = tars_core::Server::builder()
        .servant(
            HELLO_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(HelloImpl::default()),
        )
        .start()
        .await
        .expect("hello server starts");
    let port = server.endpoint(HELLO_OBJ).expect("bound").port;
    (server, port)
}
