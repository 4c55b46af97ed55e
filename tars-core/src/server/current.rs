//! [`Current`]: a cheap, cloneable handle to the connection a request came in on, plus that
//! request's details. It outlives the request, so a servant can keep it and push later.

use super::limit::{BudgetGuard, InFlight, InFlightGuard, ServerState};
use super::ServerConfig;
use crate::error::{TarsError, TarsResult};
use crate::net::Outbound;
use crate::protocol::{encode_frame, ResponsePacket, STATUS_TARS_FUNC, TARS_VERSION};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

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
    /// The peer did not read fast enough and its outbound queue filled up.
    SlowConsumer,
    /// A write made no progress for `ServerConfig::write_stall_timeout`: the peer stopped
    /// reading.
    WriteStalled,
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
            CloseReason::WriteStalled => f.write_str("write stalled: the peer stopped reading"),
            CloseReason::Shutdown => f.write_str("server shutdown"),
            CloseReason::Error(e) => write!(f, "error: {e}"),
        }
    }
}

type CloseHook = Box<dyn FnOnce() + Send>;

/// The per-connection limits, from the [`ServerConfig`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// Most unsent bytes before an unsolicited frame (a push) closes the connection.
    pub(crate) unsent_push: usize,
    /// Unsent bytes past which new requests are answered -9 (and past twice which the
    /// connection is closed as a slow consumer).
    pub(crate) unsent_responses: usize,
    /// Largest frame sent (and received).
    pub(crate) max_frame_len: usize,
    pub(crate) max_in_flight: u32,
}

impl ConnLimits {
    pub(crate) fn from_config(config: &ServerConfig) -> Self {
        ConnLimits {
            unsent_push: config.outbound_queue_bytes,
            unsent_responses: config.response_queue_bytes,
            max_frame_len: config.max_frame_len,
            max_in_flight: config.max_in_flight_per_connection,
        }
    }
}

/// A request let in: its in-flight slots (connection and server) and, once its handler
/// waits, its share of the request-bytes budget. Dropping it ends the request.
pub(crate) struct Admitted {
    _conn: InFlightGuard,
    _server: InFlightGuard,
    bytes: Option<BudgetGuard>,
}

/// Why a request was not let in (the description of its -9 answer).
pub(crate) type Refused = &'static str;

/// The state of one accepted connection, shared by its task, its requests and every
/// [`Current`] that refers to it.
pub(crate) struct Connection {
    pub(crate) uid: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) servant_name: Arc<str>,
    /// Frames waiting for the connection's writer.
    pub(crate) outbound: Outbound,
    pub(crate) limits: ConnLimits,
    pub(crate) server: Arc<ServerState>,
    closed: CancellationToken,
    close_reason: OnceLock<CloseReason>,
    close_hooks: Mutex<Vec<CloseHook>>,
    in_flight: Arc<InFlight>,
    /// When bytes last arrived, in the adapter's sweep clock (see `sweep.rs`).
    last_read_ms: AtomicU64,
    /// Set by [`close_with`](Self::close_with): what the push path checks (with the
    /// server's force-close flag, shared by every connection), beside the queue it touches
    /// anyway, instead of following the token to its own allocation once per connection of
    /// a broadcast.
    closing: AtomicBool,
    /// What the sweep asks the driver to close for, at the start of its next round (never in
    /// the middle of a read batch): 0 nothing, else a [`SweepClose`].
    sweep_close: AtomicU8,
}

/// Why the sweep asks a driver to close its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SweepClose {
    /// Nothing arrived and nothing was read for the idle timeout.
    Idle = 1,
    /// Draining for a shutdown: answered, flushed and quiet.
    Drained = 2,
}

impl SweepClose {
    /// The close reason of a stored request (0: none).
    fn reason(stored: u8) -> Option<CloseReason> {
        const IDLE: u8 = SweepClose::Idle as u8;
        const DRAINED: u8 = SweepClose::Drained as u8;
        match stored {
            IDLE => Some(CloseReason::IdleTimeout),
            DRAINED => Some(CloseReason::Shutdown),
            _ => None,
        }
    }
}

impl Connection {
    /// `closed` is the connection's token: a child of the server's force-close token, so one
    /// wait in the connection's task sees both.
    pub(crate) fn new(
        uid: u64,
        peer: SocketAddr,
        local: SocketAddr,
        servant_name: Arc<str>,
        limits: ConnLimits,
        server: Arc<ServerState>,
        closed: CancellationToken,
    ) -> Self {
        Connection {
            uid,
            peer,
            local,
            servant_name,
            outbound: Outbound::new(),
            in_flight: InFlight::new(limits.max_in_flight as usize),
            limits,
            server,
            closed,
            close_reason: OnceLock::new(),
            close_hooks: Mutex::new(Vec::new()),
            last_read_ms: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            sweep_close: AtomicU8::new(0),
        }
    }

    /// Records that bytes arrived at `ms` (the adapter's sweep clock).
    pub(crate) fn read_at(&self, ms: u64) {
        self.last_read_ms.store(ms, Ordering::Relaxed);
    }

    /// When bytes last arrived (the adapter's sweep clock).
    pub(crate) fn last_read_ms(&self) -> u64 {
        self.last_read_ms.load(Ordering::Relaxed)
    }

    /// Asks the driver to close the connection for `why` at the start of its next round,
    /// and wakes it.
    pub(crate) fn request_close(&self, why: SweepClose) {
        self.sweep_close.store(why as u8, Ordering::Release);
        self.outbound.wake();
    }

    /// The close the sweep asked for, if any (see [`request_close`](Self::request_close)).
    pub(crate) fn requested_close(&self) -> Option<CloseReason> {
        SweepClose::reason(self.sweep_close.load(Ordering::Acquire))
    }

    /// Whether the server closes every connection by force.
    pub(crate) fn server_force_closed(&self) -> bool {
        self.server.force_closed.load(Ordering::Acquire)
    }

    /// Closing: closed, or the server closes every connection by force. Set before the
    /// closed token is cancelled, and read without its lock (the driver checks it per frame).
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire) || self.server_force_closed()
    }

    /// Lets a request of `bytes` in, or says why not (it is then answered -9 at once instead
    /// of queueing without bound): the connection's or the server's in-flight limit, the
    /// server's request-bytes budget, or this connection's unread responses.
    pub(crate) fn admit(&self, bytes: usize) -> Result<Admitted, Refused> {
        let unsent = self.outbound.unsent();
        if unsent > self.limits.unsent_responses {
            if unsent > self.limits.unsent_responses.saturating_mul(2) {
                // Even the -9 answers are not read: stop feeding this peer.
                self.close_slow_consumer();
            }
            return Err("too many unread responses on this connection");
        }
        if !self.server.request_bytes.fits(bytes) {
            return Err("server overloaded: request bytes budget exhausted");
        }
        let Some(conn) = self.in_flight.try_begin() else {
            return Err("too many requests in flight on this connection");
        };
        let Some(server) = self.server.in_flight.try_begin() else {
            return Err("server overloaded: too many requests in flight");
        };
        Ok(Admitted {
            _conn: conn,
            _server: server,
            bytes: None,
        })
    }

    /// Requests of this connection in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.count()
    }

    pub(crate) fn closed_token(&self) -> &CancellationToken {
        &self.closed
    }

    /// Marks the connection closed for `reason` (the first reason wins); its task then stops.
    /// Returns whether this call set the reason.
    pub(crate) fn close_with(&self, reason: CloseReason) -> bool {
        let first = self.close_reason.set(reason).is_ok();
        self.closing.store(true, Ordering::Release);
        self.closed.cancel();
        // The driver waits on its outbound queue: wake it to see the close.
        self.outbound.wake();
        first
    }

    fn close_slow_consumer(&self) {
        if self.close_with(CloseReason::SlowConsumer) {
            warn!(uid = self.uid, peer = %self.peer, unsent = self.outbound.unsent(),
                "outbound queue full, closing slow consumer");
        }
    }

    /// Counts and logs a panic caught in user code.
    pub(crate) fn panicked(&self, what: &str) {
        self.server.panics.fetch_add(1, Ordering::Relaxed);
        error!(uid = self.uid, peer = %self.peer, "{what} panicked");
    }

    /// Ends the connection: records `reason` (unless one was set), drops what was not
    /// written, and runs the close hooks once, each isolated: a panicking hook is logged and
    /// counted and the others still run. Called by the connection task's drop guard.
    pub(crate) fn finish(&self, reason: CloseReason) {
        self.close_with(reason);
        self.outbound.abort();
        let hooks =
            std::mem::take(&mut *self.close_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for hook in hooks {
            if std::panic::catch_unwind(AssertUnwindSafe(hook)).is_err() {
                self.panicked("a close hook");
            }
        }
    }

    pub(crate) fn add_close_hook(&self, hook: CloseHook) {
        let mut hooks = self.close_hooks.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.is_cancelled() {
            drop(hooks);
            if std::panic::catch_unwind(AssertUnwindSafe(hook)).is_err() {
                self.panicked("a close hook");
            }
        } else {
            hooks.push(hook);
        }
    }

    fn closed_error(&self) -> TarsError {
        TarsError::ConnectionClosed(format!("connection {} closed", self.uid))
    }

    /// Appends `frame` to the outbound queue.
    fn enqueue(&self, frame: &[u8]) -> TarsResult<()> {
        if self.is_closing() {
            return Err(self.closed_error());
        }
        self.outbound.append(frame).map_err(|_| self.closed_error())
    }

    /// Queues the response of an admitted request. Responses are bounded by admission (the
    /// in-flight limits and the unread-responses limit), so they are never refused for want
    /// of room.
    pub(crate) fn send_response(&self, frame: &[u8]) -> TarsResult<()> {
        self.enqueue(frame)
    }

    /// Sends an unsolicited frame (a push) without waiting: written to the socket at once
    /// when the connection is idle, else queued behind what waits. A frame larger than
    /// `max_frame_len` is refused. When more than `outbound_queue_bytes` is already waiting,
    /// the peer is not reading: the connection is closed (the slow-consumer policy, logged
    /// once per connection) and an error returned.
    pub(crate) fn send_unsolicited(&self, frame: &[u8]) -> TarsResult<()> {
        self.check_unsolicited(frame)?;
        self.outbound.push(frame).map_err(|_| self.closed_error())
    }

    /// [`send_unsolicited`](Self::send_unsolicited) that only queues the frame, waking no
    /// one. `Ok(true)`: the queue was empty and the caller must `outbound.flush()` it.
    pub(crate) fn queue_unsolicited(&self, frame: &[u8]) -> TarsResult<bool> {
        self.check_unsolicited(frame)?;
        self.outbound
            .append_deferred(frame)
            .map_err(|_| self.closed_error())
    }

    fn check_unsolicited(&self, frame: &[u8]) -> TarsResult<()> {
        if frame.len() > self.limits.max_frame_len {
            return Err(TarsError::FrameTooLarge {
                size: frame.len(),
                limit: self.limits.max_frame_len,
            });
        }
        if self.is_closing() {
            return Err(self.closed_error());
        }
        if self.outbound.unsent() + frame.len() > self.limits.unsent_push {
            self.close_slow_consumer();
            return Err(TarsError::ConnectionClosed(format!(
                "connection {} closed: slow consumer",
                self.uid
            )));
        }
        Ok(())
    }
}

impl Admitted {
    /// Holds `bytes` of the server's request budget until the request ends (for a handler
    /// that waits; one answered at once never reserves).
    pub(crate) fn hold_bytes(&mut self, server: &Arc<ServerState>, bytes: usize) {
        self.bytes = Some(server.reserve_request_bytes(bytes));
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
    /// connection is closed, and with [`TarsError::FrameTooLarge`] (nothing sent, the
    /// connection lives) when the bytes exceed `ServerConfig::max_frame_len`; when more than
    /// `outbound_queue_bytes` are already unwritten, the peer is not reading and the
    /// connection is closed (the slow-consumer policy).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn connection(max_frame_len: usize, unsent_push: usize) -> Connection {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let limits = ConnLimits {
            unsent_push,
            unsent_responses: 1024,
            max_frame_len,
            max_in_flight: 4,
        };
        Connection::new(
            1,
            addr,
            addr,
            "A.B.C".into(),
            limits,
            ServerState::new(8, 1 << 20),
            CancellationToken::new(),
        )
    }

    #[test]
    fn a_push_over_the_frame_limit_is_refused_and_the_connection_lives() {
        let conn = connection(100, 1 << 20);
        match conn.send_unsolicited(&[0; 101]) {
            Err(TarsError::FrameTooLarge { size, limit }) => assert_eq!((size, limit), (101, 100)),
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        assert_eq!(TarsError::FrameTooLarge { size: 1, limit: 0 }.code(), -2);
        assert!(!conn.closed_token().is_cancelled());
        conn.send_unsolicited(&[0; 100]).unwrap();
        assert_eq!(conn.outbound.unsent(), 100);
    }

    #[test]
    fn a_slow_consumer_is_closed_once() {
        let conn = connection(1000, 150);
        conn.send_unsolicited(&[0; 100]).unwrap();
        assert!(conn.send_unsolicited(&[0; 100]).is_err());
        assert_eq!(conn.close_reason.get(), Some(&CloseReason::SlowConsumer));
        // Later pushes fail quietly: the reason (and its warning) was set once.
        assert!(!conn.close_with(CloseReason::SlowConsumer));
        assert!(conn.send_unsolicited(&[0; 1]).is_err());
    }

    #[test]
    fn every_close_hook_runs_even_when_one_panics() {
        let conn = connection(1000, 1000);
        let ran = Arc::new(AtomicUsize::new(0));
        for i in 0..3 {
            let ran = ran.clone();
            conn.add_close_hook(Box::new(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                if i == 1 {
                    panic!("deliberate test panic in a close hook");
                }
            }));
        }
        conn.outbound.append(b"dropped").unwrap();
        conn.finish(CloseReason::PeerClosed);
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        assert_eq!(conn.server.panics.load(Ordering::Relaxed), 1);
        assert_eq!(conn.outbound.unsent(), 0, "unsent bytes are dropped");
        assert!(conn.send_response(b"late").is_err());
        // A hook added after the close runs at once, isolated too.
        conn.add_close_hook(Box::new(|| panic!("deliberate test panic, late hook")));
        assert_eq!(conn.server.panics.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn admission_refuses_past_the_in_flight_and_unread_limits() {
        let conn = connection(1 << 20, 1 << 20);
        let held: Vec<_> = (0..4).map(|_| conn.admit(10).ok().unwrap()).collect();
        assert!(conn.admit(10).is_err(), "per-connection in-flight limit");
        drop(held);
        assert!(conn.admit(2 << 20).is_err(), "request bytes budget");
        conn.outbound.append(&[0; 1025]).unwrap();
        assert!(conn.admit(10).is_err(), "unread responses");
        assert!(!conn.closed_token().is_cancelled());
        conn.outbound.append(&[0; 1024]).unwrap();
        assert!(conn.admit(10).is_err());
        assert_eq!(conn.close_reason.get(), Some(&CloseReason::SlowConsumer));
    }
}
