//! Per-adapter admission: an address allow-list, a connection cap, and whether the adapter's
//! accept loop is running (what `tars_core::app` reads for its heartbeats and
//! `tars.connection`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Limits of one adapter, on top of the server-wide [`ServerConfig`](super::ServerConfig)
/// (set with [`ServerBuilder::adapter_options`](super::ServerBuilder::adapter_options)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterOptions {
    /// Peer addresses that may connect, as TarsCpp's adapter `allow`: exact addresses, or
    /// patterns where `*` stands for one dot-separated part (`10.0.*.*`). Empty: anyone.
    /// A refused peer's connection is closed at once.
    pub allow: Vec<String>,
    /// Connections of this adapter served at once (TarsCpp's `maxconns`); more are closed at
    /// once. `None`: only the server-wide `max_connections` applies.
    pub max_connections: Option<usize>,
    /// TLS of this adapter's `ssl` endpoint (TarsCpp's adapter `cert`/`key`/`ca`/
    /// `verifyclient`/`ciphers`); `None`: the server-wide [`ServerConfig::tls`](super::ServerConfig::tls).
    pub tls: Option<crate::tls::ServerTls>,
    /// The key of this adapter's `-e 1` endpoint (TarsCpp's adapter `accesskey`/`secretkey`);
    /// `None`: the server-wide [`ServerConfig::auth`](super::ServerConfig::auth).
    pub auth: Option<crate::auth::AuthKey>,
}

/// The state of one adapter, as [`Server::adapter_state`](super::Server::adapter_state)
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdapterState {
    /// Whether its accept loop is running (false once it has ended, by shutdown or failure).
    pub accepting: bool,
    /// Its connections open now.
    pub connections: usize,
}

/// What every accept loop consults.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    options: AdapterOptions,
    connections: AtomicUsize,
    accepting: AtomicBool,
}

/// One admitted connection; dropping it frees its place.
pub(crate) struct GatePermit(Arc<Gate>);

impl Drop for GatePermit {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Cleared when the accept loop holding it ends, however it ends.
pub(crate) struct AcceptingGuard(Arc<Gate>);

impl Drop for AcceptingGuard {
    fn drop(&mut self) {
        self.0.accepting.store(false, Ordering::Release);
    }
}

impl Gate {
    pub(crate) fn new(options: AdapterOptions) -> Arc<Self> {
        Arc::new(Gate {
            options,
            connections: AtomicUsize::new(0),
            accepting: AtomicBool::new(false),
        })
    }

    /// Marks the accept loop running until the guard drops.
    pub(crate) fn accepting(self: &Arc<Self>) -> AcceptingGuard {
        self.accepting.store(true, Ordering::Release);
        AcceptingGuard(self.clone())
    }

    /// Admits a connection from `peer`, or says why not.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<GatePermit, &'static str> {
        if !self.allows(peer) {
            return Err("address not in the adapter's allow list");
        }
        let before = self.connections.fetch_add(1, Ordering::AcqRel);
        let permit = GatePermit(self.clone());
        match self.options.max_connections {
            Some(max) if before >= max => Err("too many connections on this adapter"),
            _ => Ok(permit),
        }
    }

    fn allows(&self, peer: IpAddr) -> bool {
        let allow = &self.options.allow;
        if allow.is_empty() {
            return true;
        }
        let ip = match peer {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
            IpAddr::V4(v4) => v4.to_string(),
        };
        allow
            .iter()
            .any(|pattern| match_period(&ip, pattern.trim()))
    }

    pub(crate) fn state(&self) -> AdapterState {
        AdapterState {
            accepting: self.accepting.load(Ordering::Acquire),
            connections: self.connections.load(Ordering::Acquire),
        }
    }
}

/// TarsCpp's `matchPeriod`: `*` matches a non-empty run of characters without a dot; any
/// other character matches itself; an empty pattern matches everything.
fn match_period(s: &str, pattern: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if pattern.is_empty() {
        return true;
    }
    let (s, p) = (s.as_bytes(), pattern.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < s.len() && j < p.len() {
        if p[j] == b'*' {
            if s[i] == b'.' {
                return false;
            }
            while i < s.len() && s[i] != b'.' {
                i += 1;
            }
        } else if p[j] != s[i] {
            return false;
        } else {
            i += 1;
        }
        j += 1;
    }
    i == s.len() && j == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_tarscpp() {
        assert!(match_period("10.0.0.1", "10.0.0.1"));
        assert!(!match_period("10.0.0.12", "10.0.0.1"));
        assert!(match_period("10.0.3.1", "10.0.*.1"));
        assert!(match_period("10.0.3.1", "10.*.*.*"));
        assert!(!match_period("10.0.3.1", "10.*"));
        assert!(match_period("10.0.3.1", ""));
        assert!(!match_period("", "*"));
    }

    #[test]
    fn admits_against_allow_and_cap() {
        let gate = Gate::new(AdapterOptions {
            allow: vec!["127.0.0.1".into(), "10.1.*.*".into()],
            max_connections: Some(1),
            ..AdapterOptions::default()
        });
        assert!(gate.admit("192.168.0.1".parse().unwrap()).is_err());
        let first = gate.admit("::ffff:127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(gate.state().connections, 1);
        assert!(
            gate.admit("10.1.2.3".parse().unwrap()).is_err(),
            "cap of one"
        );
        drop(first);
        assert!(gate.admit("10.1.2.3".parse().unwrap()).is_ok());
        assert_eq!(gate.state().connections, 0);
        let guard = gate.accepting();
        assert!(gate.state().accepting);
        drop(guard);
        assert!(!gate.state().accepting);
    }
}
