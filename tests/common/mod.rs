//! Helpers shared by the interop tests: the Node.js peers in `tests/node`, backed by the real
//! npm packages (@tars/stream, @tars/rpc), which the tests install themselves.
//!
//! Node.js and npm are required: without them the interop tests fail (they never skip).

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// `tests/node`, with its npm dependencies installed (`npm ci`, or `npm install` if that
/// fails). Safe to call from parallel tests and processes: one installs, the others wait.
/// Panics with a clear message if node or npm is missing or the install fails.
pub fn node_peer_dir() -> PathBuf {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("node");
    // A test that panicked while installing poisons the mutex; the next one simply retries.
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if !*installed {
        require_tool("node");
        if !is_installed(&dir) {
            require_tool("npm");
            let _lock = DirLock::acquire(&dir);
            if !is_installed(&dir) {
                npm_install(&dir);
            }
        }
        *installed = true;
    }
    dir
}

/// Runs `node <tests/node>/<script>` with `input` as JSON on stdin and parses its stdout as
/// JSON. Panics (with node's stderr) if node fails or prints something else.
pub fn run_node_json(script: &str, input: &Value) -> Value {
    let dir = node_peer_dir();
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
    let mut stdin = child.stdin.take().expect("node stdin");
    let input = input.to_string();
    // Write from another thread so that a large output cannot deadlock against the input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("node output");
    writer
        .join()
        .expect("stdin writer")
        .expect("write node stdin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node {script} failed ({}): {stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("node {script} printed invalid JSON ({e}); stderr: {stderr}"))
}

fn is_installed(dir: &Path) -> bool {
    dir.join("node_modules/@tars/stream/package.json").is_file()
}

fn require_tool(tool: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`{tool}` not found: the Tars.js interop tests need Node.js (>= 18) and npm on PATH \
         (for example `apt-get install nodejs npm`); they install their npm packages themselves"
    );
}

fn npm_install(dir: &Path) {
    let mut errors = String::new();
    for args in [
        &["ci", "--no-audit", "--no-fund"][..],
        &["install", "--no-audit", "--no-fund"],
    ] {
        let out = Command::new("npm")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run npm: {e}"));
        if out.status.success() && is_installed(dir) {
            return;
        }
        errors += &format!(
            "\n`npm {}` in {} failed ({}):\n{}",
            args.join(" "),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    panic!("cannot install the npm packages of the interop tests:{errors}");
}

/// A lock between processes: a directory that only one process can create. A lock older than
/// ten minutes is taken to be left over from a killed process and is removed.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(dir: &Path) -> DirLock {
        let name: String = dir
            .to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = std::env::temp_dir().join(format!("tars-rs-npm{name}.lock"));
        let start = Instant::now();
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return DirLock(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|age| age > Duration::from_secs(600)) {
                        let _ = std::fs::remove_dir(&path);
                    }
                    assert!(
                        start.elapsed() < Duration::from_secs(900),
                        "waited too long for {}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
