//! The TARS client: a [`Communicator`] makes proxies from `Obj@endpoints` strings; a
//! [`ServantProxy`] (wrapped by each generated typed proxy) calls with timeouts, context,
//! one-way, TUP, round robin across endpoints, reconnects, and receives pushes.
//!
//! ```no_run
//! # async fn run() -> tars_core::TarsResult<()> {
//! use tars_core::client::Communicator;
//! let comm = Communicator::new();
//! let proxy = comm.servant_proxy("Test.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 10015")?;
//! proxy.tars_ping().await?;
//! # Ok(()) }
//! ```

mod codec;
mod connection;
mod handshake;
mod layer;
mod object;
mod pending;
mod property;
mod proxy;
mod push;
mod resolve;
mod stat;
mod stats;
mod subscription;
#[cfg(test)]
mod tests;

pub use crate::stat::STAT_BUCKETS;
pub use codec::{ResponseDecoder, TarsResponseDecoder};
pub use layer::{CallInfo, CallLayer, CallOutcome};
pub use property::Property;
pub use proxy::{Proxy, RequestEncoder, ServantProxy};
pub use push::PushCallback;
pub use resolve::{
    endpoints_from_registry, QueryResolver, ResolveScope, Resolved, Resolver, StaticResolver,
};
pub use stats::ClientStats;
pub use subscription::{PushSubscription, RegisterReply, SubscribeOptions, SubscriptionState};

use crate::endpoint::ProxyTarget;
use crate::error::TarsResult;
use crate::framework::tars::QueryFProxy;
use crate::protocol::DEFAULT_MAX_FRAME_LEN;
use layer::Layers;
use object::{Discovery, ObjectProxy, Shared};
use stats::Counters;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Client settings, shared by every proxy of a [`Communicator`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Default call timeout, also sent as `iTimeout` (TarsCpp and TarsGo: 3000 ms).
    pub invoke_timeout: Duration,
    /// Connect timeout (TarsCpp: 1500 ms).
    pub connect_timeout: Duration,
    /// How long an endpoint that failed to connect is set aside before it is tried again.
    pub endpoint_retry_interval: Duration,
    /// Largest frame accepted from the server and sent to it (default 10 MiB). A request
    /// over it fails with [`TarsError::FrameTooLarge`](crate::TarsError::FrameTooLarge)
    /// before anything of it is sent; the connection and its other calls go on.
    pub max_frame_len: usize,
    /// A write to a connection that makes no progress this long (the server reads nothing)
    /// closes that connection; its calls fail at once (default 10 s).
    pub write_stall_timeout: Duration,
    /// TLS for `ssl` endpoints of objects without their own ([`ClientConfig::objects`]).
    pub tls: Option<crate::tls::ClientTls>,
    /// The AK/SK key for `-e 1` endpoints of objects without their own.
    pub auth: Option<crate::auth::AuthKey>,
    /// Per-object TLS and keys (TarsCpp's `/tars/application/client/<Obj>` domains),
    /// by object name; they take precedence over `tls` and `auth`.
    pub objects: std::collections::HashMap<String, ObjectSecurity>,
    /// The registry's query object, `tars.tarsregistry.QueryObj@tcp -h H -p P[:...]`: with
    /// it, a proxy string without `@` (`App.Server.Obj`) is looked up there (config key
    /// `locator`). Several endpoints fail over.
    pub locator: Option<String>,
    /// How often an object called by name is looked up again (`refresh-endpoint-interval`,
    /// default 60 s). An empty answer or an error keeps the old list and retries sooner.
    pub refresh_endpoint_interval: Duration,
    /// The caller's set (`setname.setarea.setgroup`) when set division is enabled: lookups
    /// then ask for that set (`findObjectByIdInSameSet`).
    pub set_division: Option<String>,
    /// A directory where the last list of each object called by name is kept, so a restart
    /// during a registry outage still finds its servers (`None`: not kept).
    pub endpoint_cache_dir: Option<PathBuf>,
    /// The stat object (`tars.tarsstat.StatObj`, by name or with `@endpoints`; config key
    /// `stat`): with it, every call is counted and reported each `report_interval`
    /// (StatF `reportMicMsg`, one-way, as TarsCpp's callers).
    pub stat: Option<String>,
    /// The property object (`tars.tarsproperty.PropertyObj`; config key `property`): where
    /// [`Communicator::property`] values go each `report_interval`.
    pub property: Option<String>,
    /// How often stats and properties are sent (`report-interval`, default 60 s).
    pub report_interval: Duration,
    /// The largest estimated packet of a report (`max-report-size`, 500..=1400, else 1400).
    pub max_report_size: usize,
    /// The caller's `App.Server` in reports (`modulename`; default: the executable's name).
    pub module_name: String,
    /// The caller's address in stat heads (`masterIp`; TarsCpp's `NodeName`, default empty).
    pub node_name: String,
    /// The version after `@` in the stat head's `masterName` (default: tars-core's version).
    pub tars_version: String,
}

/// TLS and AK/SK settings of one object (see [`ClientConfig::objects`]).
#[derive(Debug, Clone, Default)]
pub struct ObjectSecurity {
    /// TLS for this object's `ssl` endpoints.
    pub tls: Option<crate::tls::ClientTls>,
    /// The key for this object's `-e 1` endpoints.
    pub auth: Option<crate::auth::AuthKey>,
}

impl ClientConfig {
    pub(crate) fn tls_for(&self, object: &str) -> Option<crate::tls::ClientTls> {
        self.objects
            .get(object)
            .and_then(|o| o.tls.clone())
            .or_else(|| self.tls.clone())
    }

    pub(crate) fn auth_for(&self, object: &str) -> Option<crate::auth::AuthKey> {
        self.objects
            .get(object)
            .and_then(|o| o.auth.clone())
            .or_else(|| self.auth.clone())
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            invoke_timeout: Duration::from_millis(3000),
            connect_timeout: Duration::from_millis(1500),
            endpoint_retry_interval: Duration::from_secs(5),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            write_stall_timeout: Duration::from_secs(10),
            tls: None,
            auth: None,
            objects: Default::default(),
            locator: None,
            refresh_endpoint_interval: Duration::from_secs(60),
            set_division: None,
            endpoint_cache_dir: None,
            stat: None,
            property: None,
            report_interval: Duration::from_secs(60),
            max_report_size: 1400,
            module_name: std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            node_name: String::new(),
            tars_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Makes proxies. Proxies made from the same string by one communicator share their
/// connections (one per endpoint), as in TarsCpp. Cheap to clone.
///
/// Ownership: the communicator and every proxy made from it hold the shared object state
/// (endpoints and connections); connection tasks hold only their connection. When the last
/// communicator handle, proxy and subscription of an object are dropped, its connections
/// close and their tasks end. [`shutdown`](Self::shutdown) closes them all at once.
#[derive(Clone, Default)]
pub struct Communicator {
    inner: Arc<CommunicatorInner>,
}

#[derive(Default)]
struct CommunicatorInner {
    config: ClientConfig,
    objects: Mutex<HashMap<String, Arc<ObjectProxy>>>,
    counters: Arc<Counters>,
    layers: Arc<Layers>,
    /// Set by [`Communicator::with_resolver`]; else made from `config.locator` on first use.
    resolver: OnceLock<Option<Arc<dyn Resolver>>>,
    /// Stat and property reports, when the config names their objects.
    reports: Option<Arc<stat::Reports>>,
    /// The parent of every connection's closed token and every subscription's.
    shutdown: CancellationToken,
}

impl Communicator {
    /// A communicator with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A communicator with `config`.
    /// With `config.stat` set, the stat layer is installed first.
    pub fn with_config(config: ClientConfig) -> Self {
        let shutdown = CancellationToken::new();
        let reports = stat::Reports::new(&config, shutdown.clone());
        let layers = Arc::new(Layers::default());
        if let Some(reports) = reports.as_ref().filter(|_| config.stat.is_some()) {
            layers.add(reports.clone());
        }
        Communicator {
            inner: Arc::new(CommunicatorInner {
                config,
                objects: Mutex::default(),
                counters: Arc::default(),
                layers,
                resolver: OnceLock::new(),
                reports,
                shutdown,
            }),
        }
    }

    /// Sends the stat and property reports of the current interval now (one-way) and
    /// starts a new interval; nothing without `config.stat` or `config.property`.
    pub async fn report_now(&self) {
        if let Some(reports) = &self.inner.reports {
            reports.send().await;
        }
    }

    /// The layer that counts a server's answered calls and sends them with this
    /// communicator's stat reports (`reportMicMsg(.., false)`, as TarsCpp's servers): install
    /// it with [`ServerBuilder::layer`](crate::server::ServerBuilder::layer). `None` without
    /// `config.stat`. [`Application`](crate::app::Application) installs it itself.
    pub fn server_stat_layer(&self) -> Option<crate::server::ServerStatLayer> {
        self.inner.reports.as_ref()?.server_layer()
    }

    /// The property `name` (one per name and communicator): its values go to
    /// `config.property` each report interval; without one they are dropped.
    pub fn property(&self, name: &str) -> Property {
        match &self.inner.reports {
            Some(reports) if self.inner.config.property.is_some() => reports.property(name),
            _ => Property {
                data: Arc::default(),
                on_use: None,
            },
        }
    }

    /// A communicator with `config` that finds objects called by name (no `@`) with
    /// `resolver` instead of the registry of `config.locator`.
    pub fn with_resolver(config: ClientConfig, resolver: Arc<dyn Resolver>) -> Self {
        let comm = Self::with_config(config);
        let _ = comm.inner.resolver.set(Some(resolver));
        comm
    }

    /// Adds a layer that sees every call of this communicator's proxies (existing ones
    /// too), after the layers added before it.
    pub fn add_layer(&self, layer: impl CallLayer) {
        self.inner.layers.add(Arc::new(layer));
    }

    /// The resolver of names: the one given, or QueryF at `config.locator`, or none.
    pub fn resolver(&self) -> Option<Arc<dyn Resolver>> {
        self.inner
            .resolver
            .get_or_init(|| {
                let locator = self.inner.config.locator.as_deref()?.trim();
                if !locator.contains('@') {
                    tracing::warn!(locator, "the locator has no `@endpoints`: objects cannot be called by name");
                    return None;
                }
                match self.string_to_proxy::<QueryFProxy>(locator) {
                    Ok(proxy) => Some(Arc::new(QueryResolver::new(proxy)) as Arc<dyn Resolver>),
                    Err(error) => {
                        tracing::warn!(locator, %error, "bad locator: objects cannot be called by name");
                        None
                    }
                }
            })
            .clone()
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Counters of panics in user code (push callbacks, decoders, encoders, register
    /// functions) caught by the client of this communicator.
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// Closes every connection of this communicator's proxies (their pending calls fail at
    /// once with `ConnectionClosed`) and ends their tasks and subscriptions. Later calls on
    /// its proxies fail with [`TarsError::ConnectionClosed`](crate::TarsError::ConnectionClosed).
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// A typed proxy for `Obj@tcp -h H -p P[:tcp -h H2 -p P2 ...]`, or for `App.Server.Obj`
    /// found by name (with a locator or a resolver).
    pub fn string_to_proxy<P: Proxy>(&self, target: &str) -> TarsResult<P> {
        self.servant_proxy(target).map(P::from_servant_proxy)
    }

    /// An untyped proxy for `Obj@endpoints`, or `Obj` found by name.
    ///
    /// By name, the object's endpoints are looked up on the first call and then every
    /// `refresh_endpoint_interval` in the background; calls never wait for a refresh.
    pub fn servant_proxy(&self, target: &str) -> TarsResult<ServantProxy> {
        let key = target.trim().to_string();
        let by_name = !key.contains('@');
        let resolver = if by_name { self.resolver() } else { None };
        let mut objects = self.inner.objects.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(object) = objects.get(&key) {
            return Ok(ServantProxy::new(object.clone()));
        }
        let shared = Shared {
            config: self.inner.config.clone(),
            counters: self.inner.counters.clone(),
            layers: self.inner.layers.clone(),
            shutdown: self.inner.shutdown.clone(),
        };
        let object = match resolver {
            Some(resolver) if !key.is_empty() => {
                let config = &self.inner.config;
                let scope = match config.set_division.as_deref().map(str::trim) {
                    Some(set) if !set.is_empty() => ResolveScope::SameSet(set.to_string()),
                    _ => ResolveScope::SameGroup,
                };
                let discovery = Discovery {
                    resolver,
                    scope,
                    interval: config
                        .refresh_endpoint_interval
                        .max(Duration::from_millis(10)),
                    timeout: config.invoke_timeout,
                    cache: config.endpoint_cache_dir.clone(),
                };
                ObjectProxy::new(key.clone(), Vec::new(), Some(discovery), &shared)
            }
            _ => {
                let parsed: ProxyTarget = key.parse()?;
                ObjectProxy::new(parsed.object, parsed.endpoints, None, &shared)
            }
        };
        objects.insert(key, object.clone());
        Ok(ServantProxy::new(object))
    }
}
