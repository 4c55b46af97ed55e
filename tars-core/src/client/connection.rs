//! One multiplexed client connection to one endpoint: calls are matched to responses by
//! request id; id 0 (a push) goes to the proxy's push callback; a dropped connection fails
//! every pending call at once. A server's `_reconnect_` notice retires the connection: new
//! calls go to a new one, the calls in flight still get their responses, then it closes.
//!
//! The connection's task is a full-duplex driver: its reader and its writer
//! ([`net::write_loop_gathering`]) are two futures polled side by side, so reading responses
//! never waits for a write, and a write that makes no progress for `write_stall_timeout`
//! closes the connection. Callers encode their frames straight into the shared
//! [`Outbound`] queue; the writer takes everything queued and writes it in one go.
//!
//! Deadlines belong to the calls (`timeout_at` in the proxy): a call that gives up drops its
//! [`PendingCall`], which takes its entry out of `pending`; the task keeps no timer.
//! Cleanup (fail pending calls, cancel the token, `on_close`) is a drop guard, so it runs
//! however the task ends.

use super::codec::ResponseDecoder;
use super::push::PushCallback;
use super::stats::{Counters, UserCode};
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use crate::net::{self, AppendError, Outbound, WriteError};
use crate::protocol::{ResponsePacket, RECONNECT_DESC};
use bytes::BytesMut;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

type Reply = oneshot::Sender<TarsResult<ResponsePacket>>;
type Pending = HashMap<i32, Reply, BuildHasherDefault<IdHasher>>;

/// Hashes request ids with one multiplication (SipHash cost ~3 % of a proxy call). The ids
/// are this connection's own (or its caller's), never chosen by the peer.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, id: i32) {
        // Fibonacci hashing: sequential ids spread over the high bits the table probes with.
        self.0 = u64::from(id as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

const READ_CHUNK: usize = 16 * 1024;
/// Scratch buffers that grew past this are released after use.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    /// Where callers on this thread encode their request before appending it.
    static SCRATCH: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

/// Bytes queued for writing before callers wait for the writer to catch up.
const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;

/// The user code a connection calls, and where its panics are counted.
#[derive(Clone)]
pub(crate) struct Hooks {
    pub(crate) decoder: Arc<dyn ResponseDecoder>,
    pub(crate) push: Option<Arc<dyn PushCallback>>,
    pub(crate) counters: Arc<Counters>,
}

/// Settings of one connection.
pub(crate) struct Limits {
    /// Largest request frame sent.
    pub(crate) max_frame_len: usize,
    /// A write that makes no progress this long closes the connection.
    pub(crate) write_stall: Duration,
    /// TLS for `ssl` endpoints.
    pub(crate) tls: Option<crate::tls::ClientTls>,
    /// The object called and its key, for `-e 1` endpoints.
    pub(crate) auth: Option<(String, Option<crate::auth::AuthKey>)>,
}

/// A live connection to one endpoint.
pub(crate) struct ClientConnection {
    pub(crate) endpoint: Endpoint,
    out: Outbound,
    pending: Mutex<Pending>,
    next_id: AtomicU32,
    closed: CancellationToken,
    /// Set by the server's `_reconnect_` notice: no new calls; closes once none is pending.
    retired: AtomicBool,
    max_frame_len: usize,
    /// Why the connection's task ended (set before `closed` is cancelled by it).
    close_reason: OnceLock<String>,
}

impl ClientConnection {
    /// Connects and starts the connection's task. The connection closes when `parent` is
    /// cancelled (the communicator's shutdown).
    pub(crate) async fn connect(
        endpoint: Endpoint,
        hooks: Hooks,
        limits: Limits,
        parent: &CancellationToken,
    ) -> TarsResult<Arc<Self>> {
        let stream = TcpStream::connect(endpoint.socket_addr_string())
            .await
            .map_err(|e| TarsError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let tls = if endpoint.protocol == crate::endpoint::Transport::Ssl {
            let tls = limits.tls.as_ref().ok_or_else(|| TarsError::Connect {
                endpoint: endpoint.to_string(),
                reason: "an ssl endpoint and no TLS configuration (ClientConfig::tls)".into(),
            })?;
            let mut tls =
                tls.connect(&endpoint.host, stream)
                    .await
                    .map_err(|e| TarsError::Connect {
                        endpoint: endpoint.to_string(),
                        reason: e.to_string(),
                    })?;
            if let Some((obj, key)) = &limits.auth {
                super::handshake::authenticate(&mut tls, &endpoint, obj, key.as_ref()).await?;
            }
            Stream::Tls(Box::new(tls))
        } else {
            let mut stream = stream;
            if let Some((obj, key)) = &limits.auth {
                super::handshake::authenticate(&mut stream, &endpoint, obj, key.as_ref()).await?;
            }
            Stream::Tcp(stream)
        };
        let conn = Arc::new(ClientConnection {
            endpoint,
            out: Outbound::new(),
            pending: Mutex::new(HashMap::default()),
            next_id: AtomicU32::new(1),
            closed: parent.child_token(),
            retired: AtomicBool::new(false),
            max_frame_len: limits.max_frame_len,
            close_reason: OnceLock::new(),
        });
        if let Some(push) = &hooks.push {
            hooks
                .counters
                .guard(UserCode::Callback, "on_connect", &conn.endpoint, || {
                    push.on_connect(&conn.endpoint)
                });
        }
        let conn2 = conn.clone();
        match tls {
            Stream::Tcp(mut stream) => {
                tokio::spawn(async move {
                    let (reader, writer) = stream.split();
                    run(reader, writer, conn2, hooks, limits.write_stall).await
                });
            }
            Stream::Tls(stream) => {
                tokio::spawn(async move {
                    let (reader, writer) = tokio::io::split(stream);
                    run(reader, writer, conn2, hooks, limits.write_stall).await
                });
            }
        }
        Ok(conn)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Whether new calls may use this connection: open and not retired by the server.
    pub(crate) fn is_usable(&self) -> bool {
        !self.is_closed() && !self.retired.load(Ordering::Acquire)
    }

    /// Closes a retired connection once no call waits on it (`pending` is its locked map).
    fn close_if_retired_and_idle(&self, pending: &Pending) {
        if pending.is_empty() && self.retired.load(Ordering::Acquire) {
            self.close();
        }
    }

    /// Closes the connection: its task ends, its calls fail at once.
    pub(crate) fn close(&self) {
        self.closed.cancel();
    }

    /// Cancelled when the connection closes.
    pub(crate) fn closed_token(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// The next request id of this connection: 1, 2, ... skipping 0 on wrap.
    pub(crate) fn next_request_id(&self) -> i32 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) as i32;
            if id != 0 {
                return id;
            }
        }
    }

    /// Calls waiting for a response (a removed endpoint's connection drains to 0).
    pub(crate) fn pending_len(&self) -> usize {
        self.pending().len()
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a call waiting for `request_id`. Fails if the connection already closed or
    /// the id is in use. Dropping the returned [`PendingCall`] before its response came
    /// forgets the call.
    pub(crate) fn register(&self, request_id: i32) -> TarsResult<PendingCall<'_>> {
        let (reply, rx) = oneshot::channel();
        let mut pending = self.pending();
        // Checked under the lock, so a closing task cannot miss this entry.
        if self.is_closed() {
            return Err(self.closed_error());
        }
        if pending.contains_key(&request_id) {
            return Err(TarsError::Invalid(format!(
                "request id {request_id} is already in flight"
            )));
        }
        pending.insert(request_id, reply);
        Ok(PendingCall {
            conn: self,
            id: request_id,
            rx: Some(rx),
        })
    }

    /// Appends a frame to the outbound queue with `encode`, waiting while too much is already
    /// queued. A frame larger than the frame limit fails with [`TarsError::FrameTooLarge`]
    /// and nothing of it is queued.
    pub(crate) async fn send_with(
        &self,
        encode: impl FnOnce(&mut BytesMut) -> TarsResult<()>,
    ) -> TarsResult<()> {
        if self.out.unsent() >= MAX_QUEUED_BYTES {
            tokio::select! {
                _ = self.out.room_below(MAX_QUEUED_BYTES) => {}
                _ = self.closed.cancelled() => return Err(self.closed_error()),
            }
        }
        let limit = self.max_frame_len;
        // Encoded outside the queue's lock into this thread's scratch buffer (no allocation
        // once it is warm); the lock is held only for the copy into the queue.
        let appended = SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            let encoded = encode(&mut scratch);
            let size = scratch.len();
            let appended = match encoded {
                Err(e) => Err(AppendError::Write(e)),
                Ok(()) if size > limit => {
                    Err(AppendError::Write(TarsError::FrameTooLarge { size, limit }))
                }
                Ok(()) => self.out.append(&scratch).map_err(|_| AppendError::Closed),
            };
            if scratch.capacity() > SCRATCH_KEEP {
                *scratch = BytesMut::new();
            }
            appended
        });
        match appended {
            Ok(()) => Ok(()),
            Err(AppendError::Closed) => Err(self.closed_error()),
            Err(AppendError::Write(e)) => Err(e),
        }
    }

    pub(crate) fn closed_error(&self) -> TarsError {
        match self.close_reason.get() {
            Some(reason) => TarsError::ConnectionClosed(format!(
                "connection to {} closed: {reason}",
                self.endpoint
            )),
            None => TarsError::ConnectionClosed(format!("connection to {} closed", self.endpoint)),
        }
    }

    fn complete(&self, response: ResponsePacket, hooks: &Hooks) {
        if response.request_id == 0 {
            if response.result_desc == RECONNECT_DESC {
                // The server is shutting down gracefully: it still answers the calls it has
                // read, so only new calls move to a new connection (as TarsGo's GraceClose).
                debug!(endpoint = %self.endpoint, "server asked to reconnect");
                self.retired.store(true, Ordering::Release);
                self.close_if_retired_and_idle(&self.pending());
                return;
            }
            match &hooks.push {
                Some(push) => {
                    // A panicking callback loses this push only.
                    hooks
                        .counters
                        .guard(UserCode::Callback, "on_push", &self.endpoint, || {
                            push.on_push(&self.endpoint, response)
                        });
                }
                None => debug!(endpoint = %self.endpoint, "push without a push callback dropped"),
            }
            return;
        }
        let waiter = {
            let mut pending = self.pending();
            let waiter = pending.remove(&response.request_id);
            self.close_if_retired_and_idle(&pending);
            waiter
        };
        match waiter {
            Some(reply) => {
                let _ = reply.send(Ok(response));
            }
            None => debug!(
                id = response.request_id,
                "response to no pending call dropped"
            ),
        }
    }

    fn fail_all(&self) {
        let drained: Vec<_> = self.pending().drain().collect();
        for (_, reply) in drained {
            let _ = reply.send(Err(self.closed_error()));
        }
    }
}

/// A registered call. Awaiting [`response`](Self::response) gives its outcome; dropping it
/// first (the call's deadline passed, or its caller went away) takes it out of `pending`.
pub(crate) struct PendingCall<'a> {
    conn: &'a ClientConnection,
    id: i32,
    /// `None` once the outcome arrived (the entry is gone from `pending` then).
    rx: Option<oneshot::Receiver<TarsResult<ResponsePacket>>>,
}

impl PendingCall<'_> {
    /// Waits for the response (or the connection's close).
    pub(crate) async fn response(mut self) -> TarsResult<ResponsePacket> {
        let rx = self.rx.as_mut().expect("awaited once");
        let outcome = rx.await;
        self.rx = None;
        match outcome {
            Ok(result) => result,
            Err(_) => Err(self.conn.closed_error()),
        }
    }
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        let Some(rx) = self.rx.take() else { return };
        // Closing the receiver first marks our entry: a later call that reused the id has an
        // open one, and is left alone.
        drop(rx);
        let mut pending = self.conn.pending();
        if pending.get(&self.id).is_some_and(|reply| reply.is_closed()) {
            pending.remove(&self.id);
        }
        self.conn.close_if_retired_and_idle(&pending);
    }
}

/// Runs at the end of the connection's task, however it ends (a panic included).
struct Cleanup<'a> {
    conn: &'a ClientConnection,
    hooks: &'a Hooks,
    reason: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let conn = self.conn;
        debug!(endpoint = %conn.endpoint, reason = %self.reason, "client connection closed");
        let _ = conn.close_reason.set(std::mem::take(&mut self.reason));
        {
            // Taking the pending lock orders this against `register`.
            let _guard = conn.pending();
            conn.closed.cancel();
        }
        // Waiting senders see the close; nothing more is queued.
        conn.out.abort();
        conn.fail_all();
        let Some(push) = &self.hooks.push else { return };
        if std::thread::panicking() {
            // A second panic while unwinding would abort the process.
            error!(endpoint = %conn.endpoint, "connection task panicked; on_close skipped");
            return;
        }
        self.hooks
            .counters
            .guard(UserCode::Callback, "on_close", &conn.endpoint, || {
                push.on_close(&conn.endpoint)
            });
    }
}

/// A connected socket, after its TLS handshake if any.
enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn run<R, W>(
    mut reader: R,
    mut writer: W,
    conn: Arc<ClientConnection>,
    hooks: Hooks,
    stall: Duration,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut cleanup = Cleanup {
        conn: &conn,
        hooks: &hooks,
        reason: "connection task ended".into(),
    };
    let read = read_loop(&mut reader, &conn, &hooks);
    let write = net::write_loop_gathering(&mut writer, &conn.out, stall);
    tokio::pin!(read, write);
    cleanup.reason = tokio::select! {
        _ = conn.closed.cancelled() => "closed".into(),
        reason = &mut read => reason,
        written = &mut write => match written {
            Ok(()) => "closed".into(),
            Err(e @ WriteError::Stalled(_)) => {
                warn!(endpoint = %conn.endpoint, error = %e, "closing the connection");
                e.to_string()
            }
            Err(e) => e.to_string(),
        },
    };
}

/// Reads and dispatches responses until the connection fails; returns why.
async fn read_loop<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut R,
    conn: &ClientConnection,
    hooks: &Hooks,
) -> String {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        match reader.read_buf(&mut buf).await {
            Ok(0) => return "closed by server".into(),
            Err(e) => return format!("read failed: {e}"),
            Ok(_) => {}
        }
        loop {
            let decoded = hooks.counters.guard(
                UserCode::Decoder,
                "response decoder",
                &conn.endpoint,
                || hooks.decoder.decode(&mut buf),
            );
            match decoded {
                Some(Ok(Some(response))) => conn.complete(response, hooks),
                Some(Ok(None)) => break,
                Some(Err(e)) => {
                    warn!(endpoint = %conn.endpoint, error = %e, "bad response, closing connection");
                    return e;
                }
                None => return "the response decoder panicked".into(),
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
    }
}
