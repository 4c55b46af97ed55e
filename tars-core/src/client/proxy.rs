//! [`ServantProxy`]: calls on one servant object across its endpoints.

use super::codec::ResponseDecoder;
use super::connection::ClientConnection;
use super::layer::{CallInfo, CallOutcome};
use super::object::ObjectProxy;
pub use super::object::RequestEncoder;
use super::pending::Deadline;
use super::push::PushCallback;
use super::stats::{Counters, UserCode};
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use crate::protocol::{
    encode_request_into, ParamsReader, ParamsWriter, RequestPacket, RequestParts, ResponsePacket,
    NORMAL_PACKET, ONEWAY_PACKET, TARS_PING, TARS_VERSION, TUP_VERSION,
};
use crate::TarsWriter;
use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Per-proxy call options; cloning a proxy with other options is cheap.
#[derive(Clone, Default)]
struct CallOptions {
    timeout: Option<Duration>,
    context: Option<Arc<BTreeMap<String, String>>>,
    status: Option<Arc<BTreeMap<String, String>>>,
    oneway: bool,
    tup: bool,
    endpoint: Option<usize>,
    /// Calls go to this connection only (a subscription's registration and keep-alive);
    /// once it closes they fail instead of reconnecting.
    bound: Option<Arc<ClientConnection>>,
}

/// An untyped proxy to one servant object. Cheap to clone and share across tasks; clones
/// with other options (`with_timeout`, `oneway`, ...) share the connections.
#[derive(Clone)]
pub struct ServantProxy {
    object: Arc<ObjectProxy>,
    options: CallOptions,
}

impl std::fmt::Debug for ServantProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServantProxy")
            .field("object", &self.object.object)
            .finish()
    }
}

impl ServantProxy {
    pub(crate) fn new(object: Arc<ObjectProxy>) -> Self {
        ServantProxy {
            object,
            options: CallOptions::default(),
        }
    }

    /// The servant object name.
    pub fn object_name(&self) -> &str {
        &self.object.object
    }

    /// The object's endpoints now (for an object called by name, the last list looked up;
    /// empty before the first lookup).
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.object.endpoints()
    }

    /// Whether the object is called by name (its endpoints come from a resolver).
    pub fn is_resolved_by_name(&self) -> bool {
        self.object.is_discovered()
    }

    /// The call timeout in effect.
    pub fn timeout(&self) -> Duration {
        self.options
            .timeout
            .unwrap_or(self.object.config.invoke_timeout)
    }

    /// A proxy whose calls time out after `timeout` (also sent as `iTimeout`).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        self.with(|o| o.timeout = Some(timeout))
    }

    /// A proxy whose calls carry `context`.
    pub fn with_context(&self, context: BTreeMap<String, String>) -> Self {
        self.with(|o| o.context = Some(Arc::new(context)))
    }

    /// A proxy whose calls carry `status`.
    pub fn with_status(&self, status: BTreeMap<String, String>) -> Self {
        self.with(|o| o.status = Some(Arc::new(status)))
    }

    /// A proxy whose calls are one-way: sent, never answered; out values come back as
    /// defaults.
    pub fn oneway(&self) -> Self {
        self.with(|o| o.oneway = true)
    }

    /// Whether calls are one-way.
    pub fn is_oneway(&self) -> bool {
        self.options.oneway
    }

    /// A proxy whose calls use TUP (version 3) instead of TARS (version 1).
    pub fn tup(&self) -> Self {
        self.with(|o| o.tup = true)
    }

    /// A proxy pinned to the endpoint at `index` (no round robin).
    pub fn on_endpoint(&self, index: usize) -> Self {
        self.with(|o| o.endpoint = Some(index))
    }

    fn with(&self, change: impl FnOnce(&mut CallOptions)) -> Self {
        let mut copy = self.clone();
        change(&mut copy.options);
        copy
    }

    /// Sets the callback for pushes (responses with request id 0) and connection events.
    /// Connections opened from now on use it; set it before the first call.
    pub fn set_push_callback(&self, callback: impl PushCallback) {
        *self.object.push.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(callback));
    }

    /// Replaces how requests are encoded (third-party protocols).
    pub fn set_request_encoder(&self, encoder: impl RequestEncoder) {
        *self
            .object
            .encoder
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(encoder);
        self.object.custom_encoder.store(true, Ordering::Release);
    }

    /// Replaces how responses are split and decoded (third-party protocols).
    pub fn set_response_decoder(&self, decoder: impl ResponseDecoder) {
        *self
            .object
            .decoder
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(decoder);
    }

    /// A writer for the parameters of a call in this proxy's encoding.
    pub fn params_writer(&self) -> ParamsWriter {
        ParamsWriter::new(if self.options.tup {
            TUP_VERSION
        } else {
            TARS_VERSION
        })
    }

    /// Calls `func` with encoded parameters. A non-zero iRet is an error
    /// ([`TarsError::Ret`]); one-way calls return `None`.
    pub async fn invoke(
        &self,
        func: &str,
        params: ParamsWriter,
    ) -> TarsResult<Option<ParamsReader>> {
        let version = params.version();
        let body = match params {
            // TARS parameters go from the writer straight into the frame.
            ParamsWriter::Tars(w) => Body::Writer(w),
            tup => Body::Shared(tup.finish()),
        };
        let Some(response) = self.call_body(func, body, version, None).await? else {
            return Ok(None);
        };
        if response.ret != 0 {
            return Err(TarsError::Ret {
                code: response.ret,
                desc: response.result_desc,
            });
        }
        Ok(Some(ParamsReader::new(version, response.buffer)?))
    }

    /// Sends one request and waits for the matching response (or returns `None` at once for
    /// one-way calls). `request_id` `None` takes the connection's next id.
    pub async fn call(
        &self,
        func: &str,
        buffer: Bytes,
        version: i16,
        request_id: Option<i32>,
    ) -> TarsResult<Option<ResponsePacket>> {
        self.call_body(func, Body::Shared(buffer), version, request_id)
            .await
    }

    async fn call_body(
        &self,
        func: &str,
        buffer: Body,
        version: i16,
        request_id: Option<i32>,
    ) -> TarsResult<Option<ResponsePacket>> {
        let started = Instant::now();
        let timeout = self.timeout();
        let deadline = Deadline {
            at: started + timeout,
            timeout,
        };
        let Some(layers) = self.object.layers.get() else {
            return self
                .call_until(func, buffer, version, request_id, deadline, None)
                .await;
        };
        let info = CallInfo {
            object: &self.object.object,
            func,
            oneway: self.options.oneway,
        };
        for layer in layers.iter() {
            layer.before(&info);
        }
        let mut endpoint = None;
        let result = self
            .call_until(
                func,
                buffer,
                version,
                request_id,
                deadline,
                Some(&mut endpoint),
            )
            .await;
        let outcome = CallOutcome {
            endpoint: endpoint.as_ref(),
            duration: started.elapsed(),
            result: match &result {
                Ok(Some(response)) => Ok(response.ret),
                Ok(None) => Ok(0),
                Err(e) => Err(e),
            },
        };
        for layer in layers.iter() {
            layer.after(&info, &outcome);
        }
        result
    }

    /// One call, ended by `deadline` wherever it waits: for a connection (`within`), for
    /// room in the outbound queue (`send_with`), for its response (the connection's
    /// deadline sweep). A call that needs no wait sets no timer.
    async fn call_until(
        &self,
        func: &str,
        buffer: Body,
        version: i16,
        request_id: Option<i32>,
        deadline: Deadline,
        picked: Option<&mut Option<Endpoint>>,
    ) -> TarsResult<Option<ResponsePacket>> {
        let conn = match &self.options.bound {
            Some(conn) if conn.is_closed() => return Err(conn.closed_error()),
            Some(conn) => conn.clone(),
            None => {
                let pinned = self.options.endpoint;
                match self.object.ready_connection(pinned) {
                    Ok(conn) => conn,
                    Err(pick) => {
                        // Boxed: connecting (TLS and auth included) is a large future, and
                        // every call's future would carry its size.
                        let connect = self.object.connection(pinned, pick, deadline.at);
                        Box::pin(deadline.within(connect)).await?
                    }
                }
            }
        };
        if let Some(picked) = picked {
            *picked = Some(conn.endpoint.clone());
        }
        let request_id = request_id.unwrap_or_else(|| conn.next_request_id());
        let packet_type = if self.options.oneway {
            ONEWAY_PACKET
        } else {
            NORMAL_PACKET
        };
        let timeout_ms = deadline.timeout.as_millis().min(i32::MAX as u128) as i32;
        let counters = &self.object.counters;
        let endpoint = &conn.endpoint;
        let custom = self.object.custom_encoder.load(Ordering::Acquire);
        let encoder = custom.then(|| {
            self.object
                .encoder
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        });
        let encode = |out: &mut BytesMut| {
            let Some(encoder) = &encoder else {
                // The default: the frame is written from borrowed parts, nothing is copied.
                let parts = RequestParts {
                    version,
                    packet_type,
                    message_type: 0,
                    request_id,
                    servant_name: &self.object.object,
                    func_name: func,
                    buffer: buffer.as_slice(),
                    timeout: timeout_ms,
                    context: self.options.context.as_deref(),
                    status: self.options.status.as_deref(),
                };
                encode_request_into(&parts, out);
                return Ok(());
            };
            let request = RequestPacket {
                version,
                packet_type,
                message_type: 0,
                request_id,
                servant_name: self.object.object.to_string(),
                func_name: func.to_string(),
                buffer: buffer.to_bytes(),
                timeout: timeout_ms,
                context: self.options.context.as_deref().cloned().unwrap_or_default(),
                status: self.options.status.as_deref().cloned().unwrap_or_default(),
            };
            // A panicking encoder fails this call only; what it wrote is taken back.
            counters
                .guard(UserCode::Encoder, "request encoder", endpoint, || {
                    encoder.encode_into(&request, out)
                })
                .unwrap_or_else(|| Err(TarsError::Invalid("the request encoder panicked".into())))
        };
        if self.options.oneway {
            return conn.send_with(encode, deadline).await.map(|()| None);
        }
        // Fails at the deadline; dropped before (its caller went away), it forgets the call.
        let register =
            |cx: &mut Context<'_>| Poll::Ready(conn.register(request_id, deadline, cx.waker()));
        let waiter = std::future::poll_fn(register).await?;
        conn.send_with(encode, deadline).await?;
        waiter.await.map(Some)
    }

    /// The built-in keep-alive call; succeeds when the servant answers.
    pub async fn tars_ping(&self) -> TarsResult<()> {
        let version = if self.options.tup {
            TUP_VERSION
        } else {
            TARS_VERSION
        };
        let buffer = if self.options.tup {
            self.params_writer().finish()
        } else {
            Bytes::new()
        };
        let response = self.call(TARS_PING, buffer, version, None).await?;
        match response {
            Some(r) if r.ret != 0 => Err(TarsError::Ret {
                code: r.ret,
                desc: r.result_desc,
            }),
            _ => Ok(()),
        }
    }

    /// A new request id for [`rpc_call`](Self::rpc_call): per proxy object, from 1, skipping 0.
    pub fn gen_request_id(&self) -> i32 {
        loop {
            let id = self.object.rpc_ids.fetch_add(1, Ordering::Relaxed) as i32;
            if id != 0 {
                return id;
            }
        }
    }

    /// Sends `payload` under the caller's `request_id` through the request encoder and waits
    /// for the response whose decoded id matches (third-party protocols).
    pub async fn rpc_call(
        &self,
        request_id: i32,
        func: &str,
        payload: Bytes,
    ) -> TarsResult<ResponsePacket> {
        match self
            .call(func, payload, TARS_VERSION, Some(request_id))
            .await?
        {
            Some(response) => Ok(response),
            None => Err(TarsError::Invalid(
                "rpc_call on a one-way proxy has no response".into(),
            )),
        }
    }

    /// Like [`rpc_call`](Self::rpc_call), without waiting: `callback` runs with the result
    /// on a spawned task (or nothing waits for one-way proxies). Returns the task handle.
    pub fn rpc_call_async(
        &self,
        request_id: i32,
        func: &str,
        payload: Bytes,
        callback: impl FnOnce(TarsResult<ResponsePacket>) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let proxy = self.clone();
        let func = func.to_string();
        tokio::spawn(async move {
            let result = proxy.rpc_call(request_id, &func, payload).await;
            callback(result);
        })
    }

    /// Whether a connection to the endpoint at `index` is open now.
    pub fn is_connected(&self, index: usize) -> bool {
        self.object
            .slot_list()
            .get(index)
            .is_some_and(|s| s.live().is_some())
    }

    /// Opens (or reuses) the connection to endpoint `index` and returns a proxy whose calls
    /// go to that connection only, with the token cancelled when it closes: a registration
    /// made through the proxy is known to live exactly as long as the token.
    ///
    /// The third value is true when the connection is the subscription's own (the endpoint
    /// is not in the call list): its holder closes it when done.
    pub(crate) async fn bind(
        &self,
        endpoint: &Endpoint,
    ) -> TarsResult<(ServantProxy, CancellationToken, bool)> {
        let deadline = Deadline::after(self.timeout());
        let connect = self.object.connection_to(endpoint, deadline.at);
        let (conn, own) = deadline.within(connect).await?;
        let token = conn.closed_token();
        let bound = self.with(|o| o.bound = Some(conn));
        Ok((bound, token, own))
    }

    /// A watch of the endpoint list a subscription follows (every instance with
    /// `all_endpoints`).
    pub(crate) fn follow_endpoints(
        &self,
        all: bool,
    ) -> tokio::sync::watch::Receiver<Arc<Vec<Endpoint>>> {
        if all {
            self.object.follow_all()
        } else {
            self.object.follow()
        }
    }

    /// Calls waiting for a response on the current connections.
    #[cfg(test)]
    pub(crate) fn pending_calls(&self) -> usize {
        let slots = self.object.slot_list();
        slots
            .iter()
            .filter_map(|s| s.connection.read().unwrap().clone())
            .map(|c| c.pending_len())
            .sum()
    }

    /// The communicator's shutdown token.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.object.shutdown
    }

    /// Where the panics of user code are counted.
    pub(crate) fn counters(&self) -> &Counters {
        &self.object.counters
    }

    /// Closes the current connection to endpoint `index`, if any (its calls fail at once).
    /// On a proxy bound to one connection (a subscription's), closes that one.
    pub fn disconnect(&self, index: usize) {
        if let Some(conn) = &self.options.bound {
            conn.close();
            return;
        }
        if let Some(conn) = self.object.slot_list().get(index).and_then(|s| s.live()) {
            conn.close();
        }
    }

    /// Opens the connection to the endpoint at `index` if needed, within the call timeout
    /// (waiting behind another caller's connect included).
    pub async fn connect(&self, index: usize) -> TarsResult<()> {
        let deadline = Deadline::after(self.timeout());
        let connect = self.object.connection(Some(index), 0, deadline.at);
        deadline.within(connect).await.map(|_| ())
    }
}

/// A call's `sBuffer`: shared bytes, or the parameter writer it was encoded in.
enum Body {
    Shared(Bytes),
    Writer(TarsWriter),
}

impl Drop for Body {
    fn drop(&mut self) {
        // The parameters were copied into the frame: the next call's writer reuses them.
        if let Body::Writer(w) = self {
            crate::protocol::recycle_params(std::mem::take(w).into_inner());
        }
    }
}

impl Body {
    fn as_slice(&self) -> &[u8] {
        match self {
            Body::Shared(b) => b,
            Body::Writer(w) => w.as_slice(),
        }
    }

    /// For a user's [`RequestEncoder`], which takes a whole [`RequestPacket`].
    fn to_bytes(&self) -> Bytes {
        match self {
            Body::Shared(b) => b.clone(),
            Body::Writer(w) => Bytes::copy_from_slice(w.as_slice()),
        }
    }
}

/// What every generated typed proxy implements; gives them the option builders of
/// [`ServantProxy`].
pub trait Proxy: Clone + Send + Sync + Sized + 'static {
    /// Wraps an untyped proxy.
    fn from_servant_proxy(proxy: ServantProxy) -> Self;

    /// The untyped proxy inside.
    fn servant_proxy(&self) -> &ServantProxy;

    /// The same proxy with a call timeout.
    fn with_timeout(&self, timeout: Duration) -> Self {
        Self::from_servant_proxy(self.servant_proxy().with_timeout(timeout))
    }

    /// The same proxy sending `context` with each call.
    fn with_context(&self, context: BTreeMap<String, String>) -> Self {
        Self::from_servant_proxy(self.servant_proxy().with_context(context))
    }

    /// The same proxy making one-way calls.
    fn oneway(&self) -> Self {
        Self::from_servant_proxy(self.servant_proxy().oneway())
    }

    /// The same proxy speaking TUP (version 3).
    fn tup(&self) -> Self {
        Self::from_servant_proxy(self.servant_proxy().tup())
    }

    /// The same proxy pinned to one endpoint.
    fn on_endpoint(&self, index: usize) -> Self {
        Self::from_servant_proxy(self.servant_proxy().on_endpoint(index))
    }

    /// `tars_ping`.
    fn tars_ping(&self) -> impl Future<Output = TarsResult<()>> + Send {
        let proxy = self.servant_proxy().clone();
        async move { proxy.tars_ping().await }
    }
}
