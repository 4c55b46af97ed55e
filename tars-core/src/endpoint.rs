//! TARS endpoint strings: `tcp -h 127.0.0.1 -p 10015 -t 60000`, and proxy strings
//! `App.Server.Obj@tcp -h H -p P:tcp -h H2 -p P2`.

use crate::error::TarsError;
use std::fmt;
use std::str::FromStr;

/// Default `-t` (milliseconds), as in TarsCpp and TarsGo.
pub const DEFAULT_ENDPOINT_TIMEOUT_MS: u64 = 3000;

/// One parsed endpoint. TCP and TLS (`ssl`) are served and dialled; `udp` parses but is
/// refused by the server and client with a clear error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `tcp`, `udp` or `ssl`.
    pub protocol: Transport,
    /// Host name or address (`*` means every interface).
    pub host: String,
    /// Port; 0 lets a server pick a free one.
    pub port: u16,
    /// `-t`: on a server, the idle timeout of connections in milliseconds.
    pub timeout_ms: u64,
    /// `-e 1`: AK/SK authentication (TarsCpp's `AUTH_TYPELOCAL`): the first frame of every
    /// connection is the `InnerAuthServer` request (see [`crate::auth`]).
    pub auth: bool,
}

/// The transport named by an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP (not supported by tars-rs).
    Udp,
    /// TLS (rustls), the same TARS frames inside.
    Ssl,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Ssl => "ssl",
        }
    }
}

impl Endpoint {
    /// A TCP endpoint with the default timeout.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            protocol: Transport::Tcp,
            host: host.into(),
            port,
            timeout_ms: DEFAULT_ENDPOINT_TIMEOUT_MS,
            auth: false,
        }
    }

    /// `host:port` for dialling or binding (`*` becomes `0.0.0.0`, IPv6 gets brackets).
    pub fn socket_addr_string(&self) -> String {
        let host = if self.host == "*" {
            "0.0.0.0"
        } else {
            self.host.as_str()
        };
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl FromStr for Endpoint {
    type Err = TarsError;

    /// Parses `tcp -h H -p P [-t T] [-e 0|1]`; other two-letter options (`-g -q -w -v -b`)
    /// are accepted and ignored, as are unknown ones.
    fn from_str(s: &str) -> Result<Self, TarsError> {
        let bad = |why: &str| TarsError::InvalidEndpoint(format!("{why} in `{s}`"));
        let mut tokens = s.split_whitespace().peekable();
        let protocol = match tokens.next() {
            Some("tcp") => Transport::Tcp,
            Some("udp") => Transport::Udp,
            Some("ssl") => Transport::Ssl,
            Some(other) => return Err(bad(&format!("unknown protocol `{other}`"))),
            None => return Err(bad("empty endpoint")),
        };
        let (mut host, mut port, mut timeout_ms) = (None, None, DEFAULT_ENDPOINT_TIMEOUT_MS);
        let mut auth = false;
        while let Some(option) = tokens.next() {
            if !option.starts_with('-') || option.len() != 2 {
                return Err(bad(&format!("unexpected `{option}`")));
            }
            // An option followed by another option has an empty value.
            let value = match tokens.peek() {
                Some(v) if !v.starts_with('-') || v.parse::<i64>().is_ok() => tokens.next(),
                _ => None,
            };
            match option {
                "-h" => host = Some(value.ok_or_else(|| bad("`-h` needs a host"))?.to_string()),
                "-p" => {
                    let v = value.ok_or_else(|| bad("`-p` needs a port"))?;
                    port = Some(
                        v.parse::<u16>()
                            .map_err(|_| bad(&format!("bad port `{v}`")))?,
                    );
                }
                "-t" => {
                    let v = value.ok_or_else(|| bad("`-t` needs milliseconds"))?;
                    timeout_ms = v
                        .parse::<u64>()
                        .map_err(|_| bad(&format!("bad timeout `{v}`")))?;
                }
                // As TarsCpp: 0 (none) or 1 (AK/SK); an empty value means none.
                "-e" => match value {
                    None | Some("0") => auth = false,
                    Some("1") => auth = true,
                    Some(v) => return Err(bad(&format!("bad auth type `-e {v}` (0 or 1)"))),
                },
                _ => {}
            }
        }
        Ok(Endpoint {
            protocol,
            host: host.ok_or_else(|| bad("missing `-h host`"))?,
            port: port.ok_or_else(|| bad("missing `-p port`"))?,
            timeout_ms,
            auth,
        })
    }
}

impl fmt::Display for Endpoint {
    /// The canonical form, `tcp -h H -p P -t T` (and ` -e 1` when authenticated).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -h {} -p {}",
            self.protocol.as_str(),
            self.host,
            self.port
        )?;
        if self.timeout_ms > 0 {
            write!(f, " -t {}", self.timeout_ms)?;
        }
        if self.auth {
            f.write_str(" -e 1")?;
        }
        Ok(())
    }
}

/// Splits an endpoint list (`tcp -h a -p 1:tcp -h b -p 2`) wherever a protocol keyword starts,
/// so IPv6 hosts with colons survive (as TarsCpp's `sepEndpoint`).
pub fn parse_endpoint_list(s: &str) -> Result<Vec<Endpoint>, TarsError> {
    let bytes = s.as_bytes();
    let mut starts = Vec::new();
    for (i, _) in s.char_indices() {
        let at_boundary = i == 0 || matches!(bytes[i - 1], b':' | b' ' | b'\t');
        let keyword = ["tcp", "udp", "ssl"].iter().any(|k| {
            s[i..].starts_with(k) && s[i + 3..].chars().next().is_none_or(|c| c.is_whitespace())
        });
        if at_boundary && keyword {
            starts.push(i);
        }
    }
    if starts.is_empty() {
        return Err(TarsError::InvalidEndpoint(format!("no endpoint in `{s}`")));
    }
    if !s[..starts[0]]
        .trim_matches(|c: char| c == ':' || c.is_whitespace())
        .is_empty()
    {
        return Err(TarsError::InvalidEndpoint(format!(
            "unexpected text before endpoint in `{s}`"
        )));
    }
    starts.push(s.len());
    starts
        .windows(2)
        .map(|w| {
            s[w[0]..w[1]]
                .trim_matches(|c: char| c == ':' || c.is_whitespace())
                .parse()
        })
        .collect()
}

/// A parsed proxy string: `Obj@endpoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    /// The servant object name, `App.Server.Obj`.
    pub object: String,
    /// Its endpoints, in the order given.
    pub endpoints: Vec<Endpoint>,
}

impl FromStr for ProxyTarget {
    type Err = TarsError;

    /// Parses `Obj@tcp -h H -p P[:tcp ...]`. A bare `Obj` is refused here: calling by name
    /// goes through a communicator with a locator or a resolver.
    fn from_str(s: &str) -> Result<Self, TarsError> {
        let Some((object, endpoints)) = s.split_once('@') else {
            return Err(TarsError::InvalidEndpoint(format!(
                "`{s}` has no `@endpoints` and no locator is configured (calling by name needs one)"
            )));
        };
        let object = object.trim();
        if object.is_empty() {
            return Err(TarsError::InvalidEndpoint(format!(
                "empty object name in `{s}`"
            )));
        }
        Ok(ProxyTarget {
            object: object.to_string(),
            endpoints: parse_endpoint_list(endpoints)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoint_options() {
        let ep: Endpoint = "tcp -h 127.0.0.1 -p 10015 -t 60000".parse().unwrap();
        assert_eq!(
            ep,
            Endpoint {
                timeout_ms: 60000,
                ..Endpoint::tcp("127.0.0.1", 10015)
            }
        );
        assert_eq!(ep.to_string(), "tcp -h 127.0.0.1 -p 10015 -t 60000");
        let ep: Endpoint = "tcp -p 1 -h ::1 -g 3 -e 0".parse().unwrap();
        assert_eq!((ep.host.as_str(), ep.port, ep.timeout_ms), ("::1", 1, 3000));
        assert_eq!(ep.socket_addr_string(), "[::1]:1");
        assert!(!ep.auth);
        let ep: Endpoint = "ssl -h h -p 2 -e 1".parse().unwrap();
        assert!(ep.auth && ep.protocol == Transport::Ssl);
        assert_eq!(ep.to_string(), "ssl -h h -p 2 -t 3000 -e 1");
        assert!("tcp -h h -p 2 -e 2".parse::<Endpoint>().is_err());
        let ep: Endpoint = "tcp -h * -p 0".parse().unwrap();
        assert_eq!(ep.socket_addr_string(), "0.0.0.0:0");
    }

    #[test]
    fn rejects_bad_endpoints() {
        for bad in [
            "",
            "http -h a -p 1",
            "tcp -p 1",
            "tcp -h a",
            "tcp -h a -p 70000",
            "tcp -h a -p x",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_proxy_strings() {
        let t: ProxyTarget = "A.B.C@tcp -h 127.0.0.1 -p 1 -t 5:tcp -h ::1 -p 2 : tcp -h h -p 3"
            .parse()
            .unwrap();
        assert_eq!(t.object, "A.B.C");
        let hosts: Vec<_> = t
            .endpoints
            .iter()
            .map(|e| (e.host.as_str(), e.port))
            .collect();
        assert_eq!(hosts, [("127.0.0.1", 1), ("::1", 2), ("h", 3)]);
        assert!("A.B.C".parse::<ProxyTarget>().is_err());
        assert!("@tcp -h a -p 1".parse::<ProxyTarget>().is_err());
        assert!("A@junk tcp -h a -p 1".parse::<ProxyTarget>().is_err());
    }
}
