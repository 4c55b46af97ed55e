//! The fake tarsstat/tarsproperty of `tests/node/fake_stat.js` (Tars.js, decoding with
//! @tars/monitor's StatF and PropertyF types): one JSON line per report received.

use super::fake::Fake;
use serde_json::Value;
use std::cell::Cell;

/// The running fake; killed when dropped.
pub struct FakeStat {
    fake: Fake,
    pub stat_port: u16,
    pub property_port: u16,
    /// Reports already returned by [`next_report`](Self::next_report).
    taken: Cell<usize>,
}

impl FakeStat {
    pub fn start() -> FakeStat {
        let fake = Fake::spawn("fake_stat.js", &[], &["stat", "property"]);
        FakeStat {
            stat_port: fake.port_of("stat"),
            property_port: fake.port_of("property"),
            fake,
            taken: Cell::new(0),
        }
    }

    /// Its StatObj, for `ClientConfig::stat`.
    pub fn stat_obj(&self) -> String {
        format!(
            "tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p {}",
            self.stat_port
        )
    }

    /// Its PropertyObj, for `ClientConfig::property`.
    pub fn property_obj(&self) -> String {
        format!(
            "tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1 -p {}",
            self.property_port
        )
    }

    /// The next decoded report.
    pub fn next_report(&self) -> Value {
        let n = self.taken.get();
        let calls = self.fake.wait_for("a report", |calls| calls.len() > n);
        self.taken.set(n + 1);
        calls[n].clone()
    }

    /// Reports received and not yet returned by `next_report`.
    pub fn unread(&self) -> usize {
        self.fake.calls().len() - self.taken.get()
    }
}
