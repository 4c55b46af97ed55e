//! Where an object runs: the [`Resolver`] trait (a static list, the registry's QueryF, or
//! your own), and the refresh loop that keeps an object's endpoint list current without
//! ever blocking a call.

use crate::endpoint::{Endpoint, Transport};
use crate::error::{TarsError, TarsResult};
use crate::framework::tars::{EndpointF, QueryFProxy};
use crate::server::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Which of an object's endpoints a lookup asks for (TarsCpp's choice of QueryF function).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResolveScope {
    /// The caller's group (`findObjectByIdInSameGroup`): what calls use by default.
    SameGroup,
    /// One set, `setname.setarea.setgroup` (`findObjectByIdInSameSet`): calls when the
    /// caller's set is enabled.
    SameSet(String),
    /// Every instance (`findObjectById4All`): what an all-endpoints push subscription
    /// follows.
    All,
}

/// One lookup's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Instances to call.
    pub active: Vec<Endpoint>,
    /// Instances the registry knows but marks down: never called.
    pub inactive: Vec<Endpoint>,
}

/// Finds the endpoints of an object by name. Implement it for your own discovery (a test
/// fake, a Kubernetes service list) and install it with
/// [`Communicator::with_resolver`](super::Communicator::with_resolver).
///
/// An error, or an empty `active` list, keeps the endpoints the object had; the lookup is
/// retried sooner than the regular refresh (errors with backoff).
pub trait Resolver: Send + Sync + 'static {
    /// Looks `object` up.
    fn resolve<'a>(
        &'a self,
        object: &'a str,
        scope: &'a ResolveScope,
    ) -> BoxFuture<'a, TarsResult<Resolved>>;
}

/// A fixed table: object name to endpoints (the same list for every scope).
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<Endpoint>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `object` at `endpoints`.
    pub fn with(mut self, object: impl Into<String>, endpoints: Vec<Endpoint>) -> Self {
        self.table.insert(object.into(), endpoints);
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(
        &'a self,
        object: &'a str,
        _: &'a ResolveScope,
    ) -> BoxFuture<'a, TarsResult<Resolved>> {
        let active = self.table.get(object).cloned();
        Box::pin(async move {
            active
                .map(|active| Resolved {
                    active,
                    inactive: Vec::new(),
                })
                .ok_or_else(|| TarsError::NoEndpoint(object.to_string()))
        })
    }
}

/// The registry (`tars.tarsregistry.QueryObj`, interface QueryF), as TarsCpp's client asks
/// it. The locator may list several registry endpoints: a failed lookup is tried on the
/// next one (round robin) before it counts as an error.
#[derive(Clone)]
pub struct QueryResolver {
    proxy: QueryFProxy,
}

impl QueryResolver {
    /// Asks the registry behind `proxy`.
    pub fn new(proxy: QueryFProxy) -> Self {
        QueryResolver { proxy }
    }
}

impl Resolver for QueryResolver {
    fn resolve<'a>(
        &'a self,
        object: &'a str,
        scope: &'a ResolveScope,
    ) -> BoxFuture<'a, TarsResult<Resolved>> {
        Box::pin(async move {
            use crate::client::Proxy;
            let tries = self.proxy.servant_proxy().endpoints().len().max(1);
            let mut last = None;
            for _ in 0..tries {
                let answer = match scope {
                    ResolveScope::SameGroup => {
                        self.proxy.find_object_by_id_in_same_group(object).await
                    }
                    ResolveScope::SameSet(set) => {
                        self.proxy.find_object_by_id_in_same_set(object, set).await
                    }
                    ResolveScope::All => self.proxy.find_object_by_id4_all(object).await,
                };
                match answer {
                    Ok((0, active, inactive)) => {
                        return Ok(Resolved {
                            active: convert(&active),
                            inactive: convert(&inactive),
                        })
                    }
                    Ok((ret, _, _)) => {
                        last = Some(TarsError::Ret {
                            code: ret,
                            desc: format!("the registry answered {ret} for {object}"),
                        })
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| TarsError::NoEndpoint(object.to_string())))
        })
    }
}

/// Registry endpoints as ours: `istcp` 1 is TCP, 0 UDP, 2 SSL; `timeout` 0 keeps the
/// default `-t`; `authType` non-zero is `-e 1`; a port outside 1..=65535 is skipped.
pub fn endpoints_from_registry(list: &[EndpointF]) -> Vec<Endpoint> {
    convert(list)
}

fn convert(list: &[EndpointF]) -> Vec<Endpoint> {
    list.iter()
        .filter_map(|e| {
            let port = u16::try_from(e.port).ok().filter(|p| *p != 0)?;
            let mut ep = Endpoint::tcp(e.host.clone(), port);
            ep.protocol = match e.istcp {
                0 => Transport::Udp,
                2 => Transport::Ssl,
                _ => Transport::Tcp,
            };
            if e.timeout > 0 {
                ep.timeout_ms = e.timeout as u64;
            }
            // authType 1: the instance wants AK/SK (`-e 1`).
            ep.auth = e.auth_type != 0;
            Some(ep)
        })
        .collect()
}

/// How one object's list is kept current.
pub(super) struct Refresh {
    pub(super) resolver: Arc<dyn Resolver>,
    pub(super) object: String,
    pub(super) scope: ResolveScope,
    pub(super) interval: Duration,
    /// A lookup that takes longer fails.
    pub(super) timeout: Duration,
    /// Where the last good list is kept (`None`: nowhere).
    pub(super) cache: Option<PathBuf>,
}

impl Refresh {
    /// Looks up now and then every `interval` (sooner after an empty answer, with backoff
    /// after errors) until `stop`, handing each non-empty list to `apply`; `apply` returns
    /// false when nobody needs the list any more. `first` runs once after the first lookup
    /// (or after a cached list was applied), whatever its outcome, so waiting calls go on.
    pub(super) async fn run(
        self,
        stop: CancellationToken,
        mut apply: impl FnMut(Vec<Endpoint>) -> bool + Send,
        first: impl FnOnce() + Send,
    ) {
        let mut first = Some(first);
        let short = (self.interval / 4).max(Duration::from_millis(10));
        let mut backoff = short;
        let mut applied_once = false;
        loop {
            let lookup = self.resolver.resolve(&self.object, &self.scope);
            let answer = match tokio::time::timeout(self.timeout, lookup).await {
                Ok(answer) => answer,
                Err(_) => Err(TarsError::Timeout(self.timeout.as_millis() as u64)),
            };
            let wait = match answer {
                Ok(found) if !found.active.is_empty() => {
                    backoff = short;
                    debug!(object = %self.object, active = found.active.len(),
                        inactive = found.inactive.len(), "endpoints resolved");
                    self.store(&found.active);
                    applied_once = true;
                    if !apply(found.active) {
                        return;
                    }
                    self.interval
                }
                Ok(_) => {
                    info!(object = %self.object, "the registry lists no active endpoint, keeping the old list");
                    short
                }
                Err(error) => {
                    warn!(object = %self.object, %error, "endpoint lookup failed, keeping the old list");
                    if !applied_once {
                        if let Some(cached) = self.load() {
                            info!(object = %self.object, n = cached.len(), "using the cached endpoint list");
                            applied_once = true;
                            if !apply(cached) {
                                return;
                            }
                        }
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.interval);
                    wait
                }
            };
            if let Some(first) = first.take() {
                first();
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn cache_file(&self) -> Option<PathBuf> {
        let dir = self.cache.as_ref()?;
        let scope = match &self.scope {
            ResolveScope::SameGroup => "group".to_string(),
            ResolveScope::SameSet(set) => format!("set-{set}"),
            ResolveScope::All => "all".to_string(),
        };
        let name: String = format!("{}.{scope}.endpoints", self.object)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Some(dir.join(name))
    }

    /// Writes the list, one endpoint a line, through a temporary file (never a torn file).
    fn store(&self, list: &[Endpoint]) {
        let Some(file) = self.cache_file() else {
            return;
        };
        let text: String = list.iter().map(|e| format!("{e}\n")).collect();
        let tmp = file.with_extension("tmp");
        let written = std::fs::create_dir_all(file.parent().unwrap_or(&file))
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &file));
        if let Err(error) = written {
            warn!(file = %file.display(), %error, "endpoint cache not written");
        }
    }

    /// The cached list, if there is a usable one. A cache that cannot be read, is too
    /// large, or holds lines that are not endpoints is warned about (its good lines are used).
    fn load(&self) -> Option<Vec<Endpoint>> {
        let file = self.cache_file()?;
        let text = match read_bounded(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                debug!(file = %file.display(), "no cached endpoint list");
                return None;
            }
            Err(error) => {
                warn!(file = %file.display(), %error, "endpoint cache unreadable: not used");
                return None;
            }
        };
        let mut list = Vec::new();
        let mut bad = 0usize;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match line.parse::<Endpoint>() {
                Ok(endpoint) => list.push(endpoint),
                Err(error) => {
                    bad += 1;
                    if bad == 1 {
                        warn!(file = %file.display(), line = n + 1, %error, "endpoint cache: bad line skipped");
                    }
                }
            }
        }
        if bad > 1 {
            warn!(file = %file.display(), bad, "endpoint cache: bad lines skipped");
        }
        if list.is_empty() {
            warn!(file = %file.display(), "endpoint cache holds no endpoint: not used");
            return None;
        }
        Some(list)
    }
}

/// The largest endpoint cache read (a list of endpoints is far smaller).
const MAX_CACHE_BYTES: u64 = 1 << 20;

/// `file` as text, refusing one over [`MAX_CACHE_BYTES`] or not UTF-8.
fn read_bounded(file: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(file)?
        .take(MAX_CACHE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CACHE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_CACHE_BYTES} bytes"
        )));
    }
    Ok(text)
}
