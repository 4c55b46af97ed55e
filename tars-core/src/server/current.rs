//! [`Current`]: a cheap, cloneable handle to the connection a request came in on, plus that
//! request's details. It outlives the request, so a servant can keep it and push later.

use super::limit::{InFlight, InFlightGuard};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{encode_frame, ResponsePacket, STATUS_TARS_FUNC, TARS_VERSION};
use bytes::Bytes;
use bytes::BytesMut;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed it.
    PeerClosed,
    /// [`Current::close`] was called (by a servant or the framework).
    Closed,
    /// No traffic for the endpoint's `-t` milliseconds.
    IdleTimeout,
    /// The peer did not read its pushes fast enough and its outbound queue filled up.
    SlowConsumer,
    /// The server shut down.
    Shutdown,
    /// A protocol or I/O error.
    Error(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("closed by peer"),
            CloseReason::Closed => f.write_str("closed by server"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::SlowConsumer => f.write_str("slow consumer: outbound queue full"),
            CloseReason::Shutdown => f.write_str("server shutdown"),
            CloseReason::Error(e) => write!(f, "error: {e}"),
        }
    }
}

type CloseHook = Box<dyn FnOnce() + Send>;

/// The state of one accepted connection, shared by its task, its requests and every
/// [`Current`] that refers to it.
pub(crate) struct Connection {
    pub(crate) uid: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) servant_name: Arc<str>,
    /// Frames waiting for the connection's task to write them.
    outbound: Mutex<BytesMut>,
    /// Wakes the task when `outbound` goes from empty to non-empty.
    pub(crate) outbound_ready: Notify,
    /// Bytes queued and not yet written (in `outbound` or being written).
    unsent: AtomicUsize,
    /// Most unsent bytes before an unsolicited frame closes the connection.
    unsent_limit: usize,
    closed: CancellationToken,
    close_reason: OnceLock<CloseReason>,
    close_hooks: Mutex<Vec<CloseHook>>,
    in_flight: Arc<InFlight>,
}

impl Connection {
    pub(crate) fn new(
        uid: u64,
        peer: SocketAddr,
        local: SocketAddr,
        servant_name: Arc<str>,
        unsent_limit: usize,
        max_in_flight: u32,
    ) -> Self {
        Connection {
            uid,
            peer,
            local,
            servant_name,
            outbound: Mutex::new(BytesMut::new()),
            outbound_ready: Notify::new(),
            unsent: AtomicUsize::new(0),
            unsent_limit,
            closed: CancellationToken::new(),
            close_reason: OnceLock::new(),
            close_hooks: Mutex::new(Vec::new()),
            in_flight: InFlight::new(max_in_flight as usize),
        }
    }

    /// Takes one of this connection's in-flight slots, or `None` when all are taken (the
    /// request is then answered with an overload code instead of queueing without bound).
    pub(crate) fn try_begin_request(&self) -> Option<InFlightGuard> {
        self.in_flight.try_begin()
    }

    /// Resolves once no request of this connection is in flight.
    pub(crate) async fn drained(&self) {
        self.in_flight.drained().await
    }

    pub(crate) fn closed_token(&self) -> &CancellationToken {
        &self.closed
    }

    /// Marks the connection closed for `reason` (the first reason wins); its task then stops.
    pub(crate) fn close_with(&self, reason: CloseReason) {
        let _ = self.close_reason.set(reason);
        self.closed.cancel();
    }

    /// Runs the close hooks once; called by the connection task when it ends.
    pub(crate) fn finish(&self, reason: CloseReason) {
        self.close_with(reason);
        let hooks =
            std::mem::take(&mut *self.close_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        hooks.into_iter().for_each(|hook| hook());
    }

    pub(crate) fn add_close_hook(&self, hook: CloseHook) {
        let mut hooks = self.close_hooks.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.is_cancelled() {
            drop(hooks);
            hook();
        } else {
            hooks.push(hook);
        }
    }

    /// Appends `frame` to the outbound buffer and wakes the task if it was empty.
    fn enqueue(&self, frame: &[u8]) -> TarsResult<()> {
        let mut out = self.outbound.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.is_cancelled() {
            return Err(TarsError::ConnectionClosed(format!(
                "connection {} closed",
                self.uid
            )));
        }
        let was_empty = out.is_empty();
        out.extend_from_slice(frame);
        self.unsent.fetch_add(frame.len(), Ordering::AcqRel);
        drop(out);
        if was_empty {
            self.outbound_ready.notify_one();
        }
        Ok(())
    }

    /// Queues a response. Responses are bounded by the in-flight limit, so they are never
    /// refused for want of room.
    pub(crate) fn send_response(&self, frame: &[u8]) -> TarsResult<()> {
        self.enqueue(frame)
    }

    /// Queues an unsolicited frame (a push) without waiting. When more than the configured
    /// number of bytes is already waiting, the peer is not reading: the connection is closed
    /// (the slow-consumer policy) and an error returned.
    pub(crate) fn send_unsolicited(&self, frame: &[u8]) -> TarsResult<()> {
        if self.unsent.load(Ordering::Acquire) + frame.len() > self.unsent_limit {
            tracing::warn!(uid = self.uid, peer = %self.peer, "outbound queue full, closing slow consumer");
            self.close_with(CloseReason::SlowConsumer);
            return Err(TarsError::ConnectionClosed(format!(
                "connection {} closed: slow consumer",
                self.uid
            )));
        }
        self.enqueue(frame)
    }

    /// Swaps the queued frames into `batch` (which must be empty) for writing.
    pub(crate) fn take_outbound(&self, batch: &mut BytesMut) {
        std::mem::swap(
            &mut *self.outbound.lock().unwrap_or_else(|e| e.into_inner()),
            batch,
        );
    }

    /// Records that `n` queued bytes were written.
    pub(crate) fn written(&self, n: usize) {
        self.unsent.fetch_sub(n, Ordering::AcqRel);
    }
}

/// What a request said, kept with its [`Current`].
#[derive(Debug)]
pub(crate) struct RequestInfo {
    pub(crate) version: i16,
    pub(crate) packet_type: i8,
    pub(crate) message_type: i32,
    pub(crate) request_id: i32,
    pub(crate) func_name: String,
    pub(crate) timeout_ms: i32,
    pub(crate) context: BTreeMap<String, String>,
    pub(crate) status: BTreeMap<String, String>,
    pub(crate) response_context: Mutex<BTreeMap<String, String>>,
}

/// The connection a request arrived on, and the request itself.
///
/// Cheap to clone, `Send + Sync + 'static`: keep it (in a [`CurrentRegistry`](super::CurrentRegistry)
/// for instance) to push to that connection later, from any task. Request accessors return
/// empty values on a `Current` that has no request (a raw-protocol connection).
#[derive(Clone)]
pub struct Current {
    pub(crate) conn: Arc<Connection>,
    pub(crate) request: Option<Arc<RequestInfo>>,
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Current")
            .field("uid", &self.conn.uid)
            .field("peer", &self.conn.peer)
            .field("request", &self.request)
            .finish()
    }
}

impl Current {
    /// The connection's unique id within this process.
    pub fn uid(&self) -> u64 {
        self.conn.uid
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer
    }

    /// The local address the connection was accepted on.
    pub fn local_addr(&self) -> SocketAddr {
        self.conn.local
    }

    /// The servant (object) name of the adapter that accepted the connection.
    pub fn servant_name(&self) -> &str {
        &self.conn.servant_name
    }

    /// Whether the connection has closed (or is closing).
    pub fn is_closed(&self) -> bool {
        self.conn.closed.is_cancelled()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.conn.close_reason.get().cloned()
    }

    /// Closes the connection. Queued frames that were not written yet are dropped.
    pub fn close(&self) {
        self.conn.close_with(CloseReason::Closed);
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        self.conn.closed.cancelled().await
    }

    /// Runs `hook` once when the connection closes (at once if it already has).
    pub fn on_close(&self, hook: impl FnOnce() + Send + 'static) {
        self.conn.add_close_hook(Box::new(hook));
    }

    /// Sends bytes on the connection as they are, at any time, from any task: a raw packet
    /// of a third-party protocol or an encoded TARS frame (a push). Never waits. Fails if the
    /// connection is closed; when more than `outbound_queue_bytes` are already unwritten, the
    /// peer is not reading and the connection is closed (the slow-consumer policy).
    pub fn send_response(&self, bytes: impl AsRef<[u8]>) -> TarsResult<()> {
        self.conn.send_unsolicited(bytes.as_ref())
    }

    /// Sends a TARS push: a ResponsePacket with request id 0, iRet 0, `status["TARS_FUNC"] =
    /// func` and `buffer` (the encoded return value and out parameters), as TarsCpp's
    /// `sendPushResponse`. Generated `#[tars_push]` senders call this.
    pub fn send_push(&self, func: &str, buffer: Bytes) -> TarsResult<()> {
        self.send_response(push_frame(func, buffer))
    }

    /// The request's packet version (1 TARS, 3 TUP); 0 without a request.
    pub fn version(&self) -> i16 {
        self.request.as_ref().map_or(0, |r| r.version)
    }

    /// The request id; 0 without a request.
    pub fn request_id(&self) -> i32 {
        self.request.as_ref().map_or(0, |r| r.request_id)
    }

    /// The called function's name; empty without a request.
    pub fn func_name(&self) -> &str {
        self.request.as_ref().map_or("", |r| &r.func_name)
    }

    /// The message type flags of the request.
    pub fn message_type(&self) -> i32 {
        self.request.as_ref().map_or(0, |r| r.message_type)
    }

    /// Whether the request was one-way (no response will be sent).
    pub fn is_oneway(&self) -> bool {
        self.request
            .as_ref()
            .is_some_and(|r| r.packet_type == crate::protocol::ONEWAY_PACKET)
    }

    /// The caller's timeout in milliseconds.
    pub fn timeout_ms(&self) -> i32 {
        self.request.as_ref().map_or(0, |r| r.timeout_ms)
    }

    /// The request context.
    pub fn context(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.request.as_ref().map_or(&EMPTY, |r| &r.context)
    }

    /// The request status.
    pub fn status(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.request.as_ref().map_or(&EMPTY, |r| &r.status)
    }

    /// Sets the context sent back with the response.
    pub fn set_response_context(&self, context: BTreeMap<String, String>) {
        if let Some(r) = &self.request {
            *r.response_context.lock().unwrap_or_else(|e| e.into_inner()) = context;
        }
    }

    /// The connection-only handle (no request), as kept by registries.
    pub fn connection(&self) -> Current {
        Current {
            conn: self.conn.clone(),
            request: None,
        }
    }

    pub(crate) fn take_response_context(&self) -> BTreeMap<String, String> {
        self.request
            .as_ref()
            .map(|r| {
                std::mem::take(&mut *r.response_context.lock().unwrap_or_else(|e| e.into_inner()))
            })
            .unwrap_or_default()
    }
}

/// The frame of a TARS push (see [`Current::send_push`]).
pub fn push_frame(func: &str, buffer: Bytes) -> Bytes {
    encode_frame(&ResponsePacket {
        version: TARS_VERSION,
        request_id: 0,
        buffer,
        status: BTreeMap::from([(STATUS_TARS_FUNC.to_string(), func.to_string())]),
        ..ResponsePacket::default()
    })
}
