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
mod proxy;
mod push;
mod subscription;

pub use codec::{ResponseDecoder, TarsResponseDecoder};
pub use proxy::{Proxy, RequestEncoder, ServantProxy};
pub use push::PushCallback;
pub use subscription::{PushSubscription, SubscribeOptions};

use crate::endpoint::ProxyTarget;
use crate::error::TarsResult;
use crate::protocol::DEFAULT_MAX_FRAME_LEN;
use proxy::ObjectProxy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Client settings, shared by every proxy of a [`Communicator`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Default call timeout, also sent as `iTimeout` (TarsCpp and TarsGo: 3000 ms).
    pub invoke_timeout: Duration,
    /// Connect timeout (TarsCpp: 1500 ms).
    pub connect_timeout: Duration,
    /// How long an endpoint that failed to connect is set aside before it is tried again.
    pub endpoint_retry_interval: Duration,
    /// Largest response frame accepted (default 10 MiB).
    pub max_frame_len: usize,
    /// Requests queued per connection before callers wait.
    pub queue_frames: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            invoke_timeout: Duration::from_millis(3000),
            connect_timeout: Duration::from_millis(1500),
            endpoint_retry_interval: Duration::from_secs(5),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            queue_frames: 4096,
        }
    }
}

/// Makes proxies. Proxies made from the same string by one communicator share their
/// connections (one per endpoint), as in TarsCpp. Cheap to clone.
#[derive(Clone, Default)]
pub struct Communicator {
    inner: Arc<CommunicatorInner>,
}

#[derive(Default)]
struct CommunicatorInner {
    config: ClientConfig,
    objects: Mutex<HashMap<String, Arc<ObjectProxy>>>,
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
                objects: Mutex::default(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
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
        let object = Arc::new(ObjectProxy::new(parsed, self.inner.config.clone()));
        objects.insert(key, object.clone());
        Ok(ServantProxy::new(object))
    }
}
