//! The fake tarsregistry of `tests/node/fake_registry.js` (Tars.js QueryF with
//! @tars/registry's EndpointF): endpoint lists set on its stdin, one JSON line per lookup.

use super::fake::Fake;
use serde_json::{json, Value};

/// The fake registry process; killed when dropped.
pub struct FakeRegistry {
    fake: Fake,
    /// Its port.
    pub port: u16,
    /// Lookups already returned by [`wait_lookups`](Self::wait_lookups).
    taken: usize,
}

impl FakeRegistry {
    /// Starts it on `port` (0: a free one).
    pub fn start(port: u16) -> FakeRegistry {
        let fake = Fake::spawn("fake_registry.js", &[&port.to_string()], &["registry"]);
        FakeRegistry {
            port: fake.port,
            fake,
            taken: 0,
        }
    }

    /// The locator string of its QueryObj.
    pub fn locator(&self) -> String {
        format!(
            "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p {}",
            self.port
        )
    }

    /// Answers lookups of `object` with these ports (on 127.0.0.1).
    pub fn set(&mut self, object: &str, active: &[u16], inactive: &[u16]) {
        self.fake
            .command(json!({ "set": object, "active": active, "inactive": inactive }));
    }

    /// Answers every lookup with return code -1 (a broken registry) while `fail` holds.
    pub fn fail(&mut self, fail: bool) {
        self.fake.command(json!({ "fail": fail }));
    }

    /// Waits for `n` lookups after those already returned, and returns them
    /// (`{"func":..,"id":..,"setId":..,"active":[..],"inactive":[..]}`).
    pub fn wait_lookups(&mut self, n: usize) -> Vec<Value> {
        let want = self.taken + n;
        let fake = &self.fake;
        // The caller may be a runtime's thread: let its other tasks run meanwhile.
        let calls = tokio::task::block_in_place(|| {
            fake.wait_for("registry lookups", |calls| calls.len() >= want)
        });
        let seen = calls[self.taken..want].to_vec();
        self.taken = want;
        seen
    }

    /// Every lookup it printed so far.
    pub fn lookups(&self) -> Vec<Value> {
        self.fake.calls()
    }
}
