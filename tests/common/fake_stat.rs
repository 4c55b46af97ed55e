//! The fake tarsstat/tarsproperty of `tests/node/fake_stat.js` (Tars.js, decoding with
//! @tars/monitor's StatF and PropertyF types): one JSON line per report received.

use super::node;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;

/// The running fake; killed when dropped.
pub struct FakeStat {
    child: Child,
    /// Every line after the ports: one JSON report each.
    pub lines: Receiver<String>,
    pub stat_port: u16,
    pub property_port: u16,
}

impl Drop for FakeStat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeStat {
    pub fn start() -> FakeStat {
        let mut cmd = node("fake_stat.js", &[]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut ports = BTreeMap::new();
        while ports.len() < 2 {
            let line = lines
                .recv_timeout(super::LIMIT)
                .expect("the fake announces its ports");
            let (label, port) = line.split_once(' ').expect("LABEL PORT");
            ports.insert(label.to_string(), port.parse::<u16>().expect("a port"));
        }
        FakeStat {
            child,
            lines,
            stat_port: ports["stat"],
            property_port: ports["property"],
        }
    }

    /// The next decoded report.
    pub fn next_report(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(super::LIMIT)
            .expect("a report within the limit");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
    }
}
