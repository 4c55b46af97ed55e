//! [`ObjectProxy`]: what every proxy to one servant object shares (endpoints, their
//! connections, the protocol hooks), and [`RequestEncoder`].

use super::codec::{ResponseDecoder, TarsResponseDecoder};
use super::connection::{ClientConnection, Hooks, Limits};
use super::push::PushCallback;
use super::stats::Counters;
use super::ClientConfig;
use crate::endpoint::{Endpoint, ProxyTarget, Transport};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{encode_frame, encode_frame_into, RequestPacket};
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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
}

impl EndpointSlot {
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
}

/// The shared state of every proxy to one object: endpoints, connections, protocol hooks.
pub(crate) struct ObjectProxy {
    pub(super) object: String,
    pub(super) slots: Vec<EndpointSlot>,
    next_slot: AtomicUsize,
    pub(super) config: ClientConfig,
    pub(super) decoder: RwLock<Arc<dyn ResponseDecoder>>,
    pub(super) encoder: RwLock<Arc<dyn RequestEncoder>>,
    pub(super) push: RwLock<Option<Arc<dyn PushCallback>>>,
    pub(super) rpc_ids: AtomicU32,
    pub(super) counters: Arc<Counters>,
    /// The communicator's shutdown: cancelled, it closes every connection (their tokens are
    /// its children) and refuses new ones.
    pub(super) shutdown: CancellationToken,
}

/// The last proxy of an object is gone: its connections close and their tasks end.
impl Drop for ObjectProxy {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            let conn = slot.connection.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(conn) = conn.take() {
                conn.close();
            }
        }
    }
}

impl ObjectProxy {
    pub(crate) fn new(
        target: ProxyTarget,
        config: ClientConfig,
        counters: Arc<Counters>,
        shutdown: CancellationToken,
    ) -> Self {
        ObjectProxy {
            object: target.object,
            slots: target
                .endpoints
                .into_iter()
                .map(|endpoint| EndpointSlot {
                    endpoint,
                    connection: RwLock::new(None),
                    connecting: tokio::sync::Mutex::new(()),
                    set_aside_until: Mutex::new(None),
                })
                .collect(),
            next_slot: AtomicUsize::new(0),
            decoder: RwLock::new(Arc::new(TarsResponseDecoder::new(config.max_frame_len))),
            encoder: RwLock::new(Arc::new(TarsRequestEncoder)),
            push: RwLock::new(None),
            rpc_ids: AtomicU32::new(1),
            config,
            counters,
            shutdown,
        }
    }

    pub(super) fn shut_down_error(&self) -> TarsError {
        TarsError::ConnectionClosed(format!("{}: the communicator was shut down", self.object))
    }

    /// A live connection: the pinned endpoint, or round robin over endpoints that are not set
    /// aside (those are tried last).
    pub(super) async fn connection(
        &self,
        pinned: Option<usize>,
        deadline: Instant,
    ) -> TarsResult<Arc<ClientConnection>> {
        if self.shutdown.is_cancelled() {
            return Err(self.shut_down_error());
        }
        let n = self.slots.len();
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
                let start = self.next_slot.fetch_add(1, Ordering::Relaxed) % n;
                // Fast path: the round-robin pick is connected.
                if let Some(conn) = self.slots[start].live() {
                    return Ok(conn);
                }
                let now = Instant::now();
                let (mut ready, aside): (Vec<usize>, Vec<usize>) = (0..n)
                    .map(|k| (start + k) % n)
                    .partition(|&i| !self.slots[i].is_set_aside(now));
                ready.extend(aside);
                ready
            }
        };
        let mut last_error = None;
        for i in order {
            match self.connect_slot(i, deadline).await {
                Ok(conn) => return Ok(conn),
                Err(e) => last_error = Some(e),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(last_error.unwrap_or_else(|| TarsError::NoEndpoint(self.object.clone())))
    }

    async fn connect_slot(&self, i: usize, deadline: Instant) -> TarsResult<Arc<ClientConnection>> {
        let slot = &self.slots[i];
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
