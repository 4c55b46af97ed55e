//! The fake tarsregistry of `tests/node/fake_registry.js` (Tars.js QueryF with
//! @tars/registry's EndpointF): endpoint lists set on its stdin, one line per lookup.

use super::node;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};

/// The fake registry process: commands on stdin, one line per lookup on stdout.
pub struct FakeRegistry {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Its port.
    pub port: u16,
    commands: usize,
    /// Lookups seen so far (lines read while waiting for acks or lookups).
    pub lookups: Vec<String>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeRegistry {
    pub fn start(port: u16) -> FakeRegistry {
        let mut cmd = node("fake_registry.js", &[&port.to_string()]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(super::LIMIT)
            .expect("the fake registry announces its port");
        let port = first
            .strip_prefix("registry ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        FakeRegistry {
            child,
            stdin,
            lines,
            port,
            commands: 0,
            lookups: Vec::new(),
        }
    }

    pub fn locator(&self) -> String {
        format!(
            "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p {}",
            self.port
        )
    }

    pub fn next_line(&mut self) -> String {
        let lines = &self.lines;
        match tokio::task::block_in_place(|| lines.recv_timeout(super::LIMIT)) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("the fake registry said nothing"),
            Err(RecvTimeoutError::Disconnected) => panic!("the fake registry exited"),
        }
    }

    pub fn command(&mut self, json: String) {
        writeln!(self.stdin, "{json}").unwrap();
        self.stdin.flush().unwrap();
        self.commands += 1;
        let ack = format!("ack {}", self.commands);
        loop {
            let line = self.next_line();
            if line == ack {
                return;
            }
            self.lookups.push(line);
        }
    }

    pub fn set(&mut self, object: &str, active: &[u16], inactive: &[u16]) {
        self.command(format!(
            r#"{{"set":"{object}","active":{active:?},"inactive":{inactive:?}}}"#
        ));
    }

    pub fn fail(&mut self, fail: bool) {
        self.command(format!(r#"{{"fail":{fail}}}"#));
    }

    /// Waits for `n` more lookups and returns them.
    pub fn wait_lookups(&mut self, n: usize) -> Vec<String> {
        let mut seen = Vec::new();
        while seen.len() < n {
            let line = self.next_line();
            if line.starts_with('{') {
                seen.push(line);
            }
        }
        self.lookups.extend(seen.iter().cloned());
        seen
    }
}
