//! A fake framework service on Tars.js (`tests/node/fake_*.js`): started, its port read from
//! `LABEL PORT`, JSON commands sent on stdin (each acknowledged with `ack N`), and the JSON
//! lines it prints (one per call it got) collected.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running fake; killed when dropped.
pub struct Fake {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The port it serves on (its first label's).
    pub port: u16,
    ports: BTreeMap<String, u16>,
    calls: Arc<Mutex<Vec<Value>>>,
    acks: Receiver<u64>,
    commands: u64,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Fake {
    /// Starts `node SCRIPT` and waits for its `LABEL PORT` line.
    pub fn start(script: &str, label: &str) -> Fake {
        Fake::spawn(script, &[], &[label])
    }

    /// Starts `node SCRIPT ARGS..` and waits for a `LABEL PORT` line of every label; `port`
    /// is the first label's.
    pub fn spawn(script: &str, args: &[&str], labels: &[&str]) -> Fake {
        let mut cmd = super::node(script, args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (ack_tx, acks) = std::sync::mpsc::channel();
        let sink = calls.clone();
        let wanted: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let labelled = line
                    .split_once(' ')
                    .filter(|(label, _)| wanted.iter().any(|w| w == label));
                if let Some((label, port)) = labelled {
                    let port = port.parse::<u16>().expect("LABEL PORT");
                    let _ = port_tx.send((label.to_string(), port));
                } else if let Some(n) = line.strip_prefix("ack ") {
                    let _ = ack_tx.send(n.parse::<u64>().expect("ack N"));
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let mut ports = BTreeMap::new();
        while ports.len() < labels.len() {
            let (label, port) = port_rx
                .recv_timeout(super::LIMIT)
                .unwrap_or_else(|_| panic!("{script} did not announce its ports {labels:?}"));
            ports.insert(label, port);
        }
        Fake {
            child,
            stdin,
            port: ports[labels[0]],
            ports,
            calls,
            acks,
            commands: 0,
        }
    }

    /// The port announced as `label`.
    pub fn port_of(&self, label: &str) -> u16 {
        self.ports[label]
    }

    /// Sends one command and waits for its acknowledgement.
    pub fn command(&mut self, cmd: Value) {
        let stdin = self.stdin.as_mut().expect("the fake runs");
        writeln!(stdin, "{cmd}").expect("write a command");
        stdin.flush().unwrap();
        self.commands += 1;
        loop {
            match self.acks.recv_timeout(super::LIMIT) {
                Ok(n) if n >= self.commands => return,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("command {cmd} not acknowledged"),
                Err(RecvTimeoutError::Disconnected) => panic!("the fake exited"),
            }
        }
    }

    /// The calls it printed so far.
    pub fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits (up to the test limit) until `cond` holds on the calls so far.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let calls = self.calls();
            if cond(&calls) {
                return calls;
            }
            assert!(
                start.elapsed() < super::LIMIT,
                "{what}: not seen; calls: {calls:#?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the fake (its port refuses connections afterwards).
    pub fn kill(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
