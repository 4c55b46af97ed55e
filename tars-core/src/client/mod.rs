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
mod object;
mod proxy;
mod push;
mod stats;
mod subscription;
#[cfg(test)]
mod tests;

pub use codec::{ResponseDecoder, TarsResponseDecoder};
pub use proxy::{Proxy, RequestEncoder, ServantProxy};
pub use push::PushCallback;
pub use stats::ClientStats;
pub use subscription::{PushSubscription, RegisterReply, SubscribeOptions, SubscriptionState};

use crate::endpoint::ProxyTarget;
use crate::error::TarsResult;
use crate::protocol::DEFAULT_MAX_FRAME_LEN;
use object::ObjectProxy;
use stats::Counters;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    /// The parent of every connection's closed token and every subscription's.
    shutdown: CancellationToken,
}

impl Communicator {
    /// A communicator with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A communicator with `config`.
    pub fn with_config(config: ClientConfig) -> Self {
        Communicator {
            inner: Arc::new(CommunicatorInner {
                config,
                ..CommunicatorInner::default()
            }),
        }
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

    /// A typed proxy for `Obj@tcp -h H -p P[:tcp -h H2 -p P2 ...]`.
    pub fn string_to_proxy<P: Proxy>(&self, target: &str) -> TarsResult<P> {
        self.servant_proxy(target).map(P::from_servant_proxy)
    }

    /// An untyped proxy for `Obj@endpoints`.
    pub fn servant_proxy(&self, target: &str) -> TarsResult<ServantProxy> {
        let key = target.trim().to_string();
        let mut objects = self.inner.objects.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(object) = objects.get(&key) {
            return Ok(ServantProxy::new(object.clone()));
        }
        let parsed: ProxyTarget = key.parse()?;
        let object = Arc::new(ObjectProxy::new(
            parsed,
            self.inner.config.clone(),
            self.inner.counters.clone(),
            self.inner.shutdown.clone(),
        ));
        objects.insert(key, object.clone());
        Ok(ServantProxy::new(object))
    }
}
