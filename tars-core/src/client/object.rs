//! [`ObjectProxy`]: what every proxy to one servant object shares (endpoints, their
//! connections, the protocol hooks), and [`RequestEncoder`].

use super::codec::{ResponseDecoder, TarsResponseDecoder};
use super::connection::{ClientConnection, Hooks, Limits};
use super::layer::Layers;
use super::push::PushCallback;
use super::resolve::{Refresh, ResolveScope, Resolver};
use super::stats::Counters;
use super::ClientConfig;
use crate::endpoint::{Endpoint, Transport};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{encode_frame, encode_frame_into, RequestPacket};
use bytes::{Bytes, BytesMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Turns a request into the bytes sent for it. The default writes a framed TARS
/// RequestPacket; a third-party protocol frames `request.buffer` and `request.request_id` its
/// own way. An error or a panic fails that call only; nothing of it is sent.
pub trait RequestEncoder: Send + Sync + 'static {
    /// Encodes one request.
    fn encode(&self, request: &RequestPacket) -> TarsResult<Bytes>;

    /// Appends the encoded request to `out` (the connection's write buffer). Override to
    /// skip the intermediate `Bytes`.
    fn encode_into(&self, request: &RequestPacket, out: &mut BytesMut) -> TarsResult<()> {
        out.extend_from_slice(&self.encode(request)?);
        Ok(())
    }
}

struct TarsRequestEncoder;

impl RequestEncoder for TarsRequestEncoder {
    fn encode(&self, request: &RequestPacket) -> TarsResult<Bytes> {
        Ok(encode_frame(request))
    }

    fn encode_into(&self, request: &RequestPacket, out: &mut BytesMut) -> TarsResult<()> {
        encode_frame_into(request, out);
        Ok(())
    }
}

/// One endpoint of an object, with its connection (made on first use, remade after a drop).
pub(super) struct EndpointSlot {
    pub(super) endpoint: Endpoint,
    pub(super) connection: RwLock<Option<Arc<ClientConnection>>>,
    connecting: tokio::sync::Mutex<()>,
    set_aside_until: Mutex<Option<Instant>>,
    /// Left the object's list: its connection drains and closes, no new one is kept.
    removed: AtomicBool,
}

impl EndpointSlot {
    fn new(endpoint: Endpoint) -> Self {
        EndpointSlot {
            endpoint,
            connection: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            set_aside_until: Mutex::new(None),
            removed: AtomicBool::new(false),
        }
    }

    pub(super) fn live(&self) -> Option<Arc<ClientConnection>> {
        let guard = self.connection.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().filter(|c| c.is_usable()).cloned()
    }

    fn is_set_aside(&self, now: Instant) -> bool {
        self.set_aside_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t > now)
    }

    /// Takes the connection out and closes it once no call waits on it.
    fn drain(&self) {
        let taken = self
            .connection
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(conn) = taken {
            drain(conn);
        }
    }
}

/// Closes `conn` once it has had no pending call for two checks in a row (the calls already
/// on it are answered; nothing new picks it). Bounded: closed after 10 minutes regardless,
/// and at once by the communicator's shutdown (its token is the parent).
fn drain(conn: Arc<ClientConnection>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        conn.close();
        return;
    };
    rt.spawn(async move {
        let limit = Instant::now() + Duration::from_secs(600);
        let mut idle_checks = 0;
        while idle_checks < 2 && Instant::now() < limit && !conn.is_closed() {
            idle_checks = if conn.pending_len() == 0 {
                idle_checks + 1
            } else {
                0
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::debug!(endpoint = %conn.endpoint, "drained connection closed");
        conn.close();
    });
}

/// How an object called by name finds its endpoints.
pub(super) struct Discovery {
    pub(super) resolver: Arc<dyn Resolver>,
    pub(super) scope: ResolveScope,
    pub(super) interval: Duration,
    pub(super) timeout: Duration,
    pub(super) cache: Option<PathBuf>,
}

/// The shared state of every proxy to one object: endpoints, connections, protocol hooks.
pub(crate) struct ObjectProxy {
    pub(super) object: String,
    /// The endpoints calls go to, in round-robin order; replaced as a whole on a change.
    slots: RwLock<Arc<Vec<Arc<EndpointSlot>>>>,
    /// The call list, for subscriptions that follow it.
    endpoints: watch::Sender<Arc<Vec<Endpoint>>>,
    /// True once the list is known (at once for `Obj@endpoints`, after the first lookup
    /// for a name).
    ready: watch::Sender<bool>,
    discovery: Option<Discovery>,
    discovery_started: AtomicBool,
    /// Every instance (`ResolveScope::All`), looked up on first use by an all-endpoints
    /// subscription.
    all: OnceLock<watch::Sender<Arc<Vec<Endpoint>>>>,
    me: Weak<ObjectProxy>,
    /// Ends the refresh loops: cancelled when the object drops.
    stop: CancellationToken,
    next_slot: AtomicUsize,
    pub(super) config: ClientConfig,
    pub(super) decoder: RwLock<Arc<dyn ResponseDecoder>>,
    pub(super) encoder: RwLock<Arc<dyn RequestEncoder>>,
    /// Set once a user's encoder replaces the default (which calls then bypass).
    pub(super) custom_encoder: AtomicBool,
    pub(super) push: RwLock<Option<Arc<dyn PushCallback>>>,
    pub(super) rpc_ids: AtomicU32,
    pub(super) counters: Arc<Counters>,
    pub(super) layers: Arc<Layers>,
    /// The communicator's shutdown: cancelled, it closes every connection (their tokens are
    /// its children) and refuses new ones.
    pub(super) shutdown: CancellationToken,
}

/// The last proxy of an object is gone: its connections close and their tasks end.
impl Drop for ObjectProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        let slots = self.slots.get_mut().unwrap_or_else(|e| e.into_inner());
        for slot in slots.iter() {
            let conn = slot.connection.write().unwrap_or_else(|e| e.into_inner());
            if let Some(conn) = conn.as_ref() {
                conn.close();
            }
        }
    }
}

/// What every object of a communicator shares.
pub(super) struct Shared {
    pub(super) config: ClientConfig,
    pub(super) counters: Arc<Counters>,
    pub(super) layers: Arc<Layers>,
    pub(super) shutdown: CancellationToken,
}

impl ObjectProxy {
    /// An object at fixed `endpoints` (`Obj@endpoints`), or found by `discovery`.
    pub(super) fn new(
        object: String,
        endpoints: Vec<Endpoint>,
        discovery: Option<Discovery>,
        shared: &Shared,
    ) -> Arc<Self> {
        let config = shared.config.clone();
        let ready = discovery.is_none();
        let list = Arc::new(endpoints.clone());
        Arc::new_cyclic(|me| ObjectProxy {
            object,
            slots: RwLock::new(Arc::new(
                endpoints
                    .into_iter()
                    .map(|e| Arc::new(EndpointSlot::new(e)))
                    .collect(),
            )),
            endpoints: watch::Sender::new(list),
            ready: watch::Sender::new(ready),
            discovery,
            discovery_started: AtomicBool::new(false),
            all: OnceLock::new(),
            me: me.clone(),
            stop: shared.shutdown.child_token(),
            next_slot: AtomicUsize::new(0),
            decoder: RwLock::new(Arc::new(TarsResponseDecoder::new(config.max_frame_len))),
            encoder: RwLock::new(Arc::new(TarsRequestEncoder)),
            custom_encoder: AtomicBool::new(false),
            push: RwLock::new(None),
            rpc_ids: AtomicU32::new(1),
            config,
            counters: shared.counters.clone(),
            layers: shared.layers.clone(),
            shutdown: shared.shutdown.clone(),
        })
    }

    pub(super) fn shut_down_error(&self) -> TarsError {
        TarsError::ConnectionClosed(format!("{}: the communicator was shut down", self.object))
    }

    /// The endpoints calls go to now.
    pub(super) fn endpoints(&self) -> Vec<Endpoint> {
        self.slot_list()
            .iter()
            .map(|s| s.endpoint.clone())
            .collect()
    }

    pub(super) fn slot_list(&self) -> Arc<Vec<Arc<EndpointSlot>>> {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the object is found by name (its list changes).
    pub(super) fn is_discovered(&self) -> bool {
        self.discovery.is_some()
    }

    /// A watch of the endpoint list an all-endpoints subscription follows: every instance
    /// for an object found by name, the fixed list otherwise.
    pub(super) fn follow_all(&self) -> watch::Receiver<Arc<Vec<Endpoint>>> {
        let Some(discovery) = &self.discovery else {
            return self.endpoints.subscribe();
        };
        let mut started = false;
        let all = self.all.get_or_init(|| {
            started = true;
            watch::Sender::new(Arc::new(Vec::new()))
        });
        if started {
            let refresh = Refresh {
                resolver: discovery.resolver.clone(),
                object: self.object.clone(),
                scope: ResolveScope::All,
                interval: discovery.interval,
                timeout: discovery.timeout,
                cache: discovery.cache.clone(),
            };
            let tx = all.clone();
            let stop = self.stop.clone();
            tokio::spawn(refresh.run(
                stop,
                move |list| {
                    tx.send_replace(Arc::new(list));
                    true
                },
                || {},
            ));
        }
        all.subscribe()
    }

    /// A watch of the call list (for single-endpoint subscriptions).
    pub(super) fn follow(&self) -> watch::Receiver<Arc<Vec<Endpoint>>> {
        self.start_discovery();
        self.endpoints.subscribe()
    }

    /// Starts the refresh loop of an object found by name (once, on first use, so that
    /// making a proxy needs no runtime).
    fn start_discovery(&self) {
        let Some(discovery) = &self.discovery else {
            return;
        };
        if self.discovery_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let refresh = Refresh {
            resolver: discovery.resolver.clone(),
            object: self.object.clone(),
            scope: discovery.scope.clone(),
            interval: discovery.interval,
            timeout: discovery.timeout,
            cache: discovery.cache.clone(),
        };
        let (apply_to, ready_of) = (self.me.clone(), self.me.clone());
        tokio::spawn(refresh.run(
            self.stop.clone(),
            move |list| match apply_to.upgrade() {
                Some(object) => {
                    object.set_endpoints(list);
                    true
                }
                None => false,
            },
            move || {
                if let Some(object) = ready_of.upgrade() {
                    object.ready.send_replace(true);
                }
            },
        ));
    }

    /// Replaces the call list: endpoints that stay keep their connection, new ones join the
    /// round robin, removed ones get no new call and their connection drains and closes.
    pub(super) fn set_endpoints(&self, mut list: Vec<Endpoint>) {
        let mut seen = std::collections::HashSet::new();
        list.retain(|e| seen.insert(e.clone()));
        let removed: Vec<Arc<EndpointSlot>> = {
            let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
            if slots.iter().map(|s| &s.endpoint).eq(list.iter()) {
                return;
            }
            let next: Vec<Arc<EndpointSlot>> = list
                .iter()
                .map(|e| match slots.iter().find(|s| &s.endpoint == e) {
                    Some(slot) => slot.clone(),
                    None => Arc::new(EndpointSlot::new(e.clone())),
                })
                .collect();
            let removed = slots
                .iter()
                .filter(|s| !list.contains(&s.endpoint))
                .cloned()
                .collect();
            *slots = Arc::new(next);
            removed
        };
        tracing::info!(object = %self.object, endpoints = list.len(), removed = removed.len(), "endpoint list changed");
        for slot in removed {
            slot.removed.store(true, Ordering::Release);
            slot.drain();
        }
        self.endpoints.send_replace(Arc::new(list));
    }

    /// The round-robin position of the next call.
    fn next_pick(&self) -> usize {
        self.next_slot.fetch_add(1, Ordering::Relaxed)
    }

    /// The live connection a call takes without waiting, if there is one: the pinned
    /// endpoint's, or the next one in round-robin order. `Err(pick)` sends the call to
    /// [`connection`](Self::connection) with that round-robin position.
    pub(super) fn ready_connection(
        &self,
        pinned: Option<usize>,
    ) -> Result<Arc<ClientConnection>, usize> {
        // No check of the shutdown token here: it is every connection's parent, so after a
        // shutdown no connection is live and the call goes on to `connection`, which fails.
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        let (slot, pick) = match (pinned, slots.len()) {
            (Some(i), _) => (slots.get(i), i),
            // One endpoint: every position picks it, and the shared counter is left alone
            // (callers on every thread would write its cache line).
            (None, 1) => (slots.first(), 0),
            (None, 0) => (None, self.next_pick()),
            (None, n) => {
                let pick = self.next_pick();
                (slots.get(pick % n), pick)
            }
        };
        slot.and_then(|slot| slot.live()).ok_or(pick)
    }

    /// A live connection: the pinned endpoint, or round robin from position `start` over
    /// endpoints that are not set aside (those are tried last). An object found by name
    /// waits (within the call's deadline, enforced by the caller) for its first lookup.
    pub(super) async fn connection(
        &self,
        pinned: Option<usize>,
        start: usize,
        deadline: Instant,
    ) -> TarsResult<Arc<ClientConnection>> {
        if self.shutdown.is_cancelled() {
            return Err(self.shut_down_error());
        }
        let mut slots = self.slot_list();
        if slots.is_empty() && self.discovery.is_some() {
            self.start_discovery();
            let mut ready = self.ready.subscribe();
            let _ = ready.wait_for(|r| *r).await;
            slots = self.slot_list();
        }
        let n = slots.len();
        if n == 0 {
            return Err(TarsError::NoEndpoint(self.object.clone()));
        }
        let order: Vec<usize> = match pinned {
            Some(i) if i < n => vec![i],
            Some(i) => {
                return Err(TarsError::Invalid(format!(
                    "endpoint index {i} out of range: {} has {n}",
                    self.object
                )))
            }
            None => {
                let start = start % n;
                let now = Instant::now();
                let (mut ready, aside): (Vec<usize>, Vec<usize>) = (0..n)
                    .map(|k| (start + k) % n)
                    .partition(|&i| !slots[i].is_set_aside(now));
                ready.extend(aside);
                ready
            }
        };
        let mut last_error = None;
        for i in order {
            match self.connect_slot(&slots[i], deadline).await {
                Ok(conn) => return Ok(conn),
                Err(e) => last_error = Some(e),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(last_error.unwrap_or_else(|| TarsError::NoEndpoint(self.object.clone())))
    }

    /// A live connection to `endpoint`: the call list's, or (when the endpoint is not in
    /// it: an instance only an all-endpoints subscription uses) a connection of its own,
    /// `true` then, which the caller closes when done.
    pub(super) async fn connection_to(
        &self,
        endpoint: &Endpoint,
        deadline: Instant,
    ) -> TarsResult<(Arc<ClientConnection>, bool)> {
        if self.shutdown.is_cancelled() {
            return Err(self.shut_down_error());
        }
        let slots = self.slot_list();
        if let Some(slot) = slots.iter().find(|s| &s.endpoint == endpoint) {
            return Ok((self.connect_slot(slot, deadline).await?, false));
        }
        let own = EndpointSlot::new(endpoint.clone());
        let conn = self.connect_slot(&own, deadline).await?;
        own.connection
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        Ok((conn, true))
    }

    async fn connect_slot(
        &self,
        slot: &EndpointSlot,
        deadline: Instant,
    ) -> TarsResult<Arc<ClientConnection>> {
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        if slot.endpoint.protocol == Transport::Udp {
            return Err(TarsError::InvalidEndpoint(format!(
                "{}: only tcp and ssl endpoints can be called",
                slot.endpoint
            )));
        }
        let limit = (Instant::now() + self.config.connect_timeout).min(deadline);
        let hooks = Hooks {
            decoder: self
                .decoder
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            push: self.push.read().unwrap_or_else(|e| e.into_inner()).clone(),
            counters: self.counters.clone(),
        };
        let limits = Limits {
            max_frame_len: self.config.max_frame_len,
            write_stall: self.config.write_stall_timeout,
            tls: self.config.tls_for(&self.object),
            auth: slot
                .endpoint
                .auth
                .then(|| (self.object.clone(), self.config.auth_for(&self.object))),
        };
        let connect =
            ClientConnection::connect(slot.endpoint.clone(), hooks, limits, &self.shutdown);
        let result = match tokio::time::timeout_at(limit, connect).await {
            Ok(result) => result,
            Err(_) => Err(TarsError::Connect {
                endpoint: slot.endpoint.to_string(),
                reason: "connect timed out".into(),
            }),
        };
        let mut aside = slot
            .set_aside_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(conn) if self.shutdown.is_cancelled() => {
                conn.close();
                Err(self.shut_down_error())
            }
            Ok(conn) => {
                *aside = None;
                *slot.connection.write().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
                if slot.removed.load(Ordering::Acquire) {
                    // The endpoint left the list while we connected: this call may use
                    // it, then it drains.
                    drain(conn.clone());
                }
                Ok(conn)
            }
            Err(e) => {
                tracing::debug!(endpoint = %slot.endpoint, error = %e, "endpoint set aside");
                *aside = Some(Instant::now() + self.config.endpoint_retry_interval);
                Err(e)
            }
        }
    }
}
