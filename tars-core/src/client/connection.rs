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
//! Waiting calls live in the connection's [`Pending`] table: a response fills its call's
//! entry and wakes the caller; one deadline sweep per connection (a task of its own) fails
//! each call when its own deadline passes; a caller that gives up first drops its
//! [`PendingCall`], which takes its entry out. Cleanup (fail pending calls, cancel the
//! token, `on_close`) is a drop guard, so it runs however the task ends.

use super::codec::ResponseDecoder;
use super::pending::{Deadline, Pending, RegisterError};
use super::push::PushCallback;
use super::stats::{Counters, UserCode};
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use crate::net::{self, AppendError, Outbound, WriteError};
use crate::protocol::{ResponsePacket, RECONNECT_DESC};
use bytes::BytesMut;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, RawWakerVTable, Waker};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

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
    pending: Pending,
    next_id: AtomicU32,
    closed: CancellationToken,
    /// Set when the connection closes: by [`close`](Self::close), or by its task's cleanup
    /// (which a cancel of the parent token, the communicator's shutdown, also leads to).
    /// What calls check: an atomic read instead of the token's lock.
    closing: AtomicBool,
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
            pending: Pending::new(),
            next_id: AtomicU32::new(1),
            closed: parent.child_token(),
            closing: AtomicBool::new(false),
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
        // The deadline sweep is a task of its own, so a call still ends at its deadline
        // while this connection's task is stuck (in a user's decoder, say). It ends when
        // that task's cleanup closes the table.
        let sweep = conn.clone();
        tokio::spawn(async move { sweep.pending.run_deadlines().await });
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

    /// Whether the connection closed. After a communicator shutdown this turns true once
    /// the connection's task has seen it (a call in that moment fails with the close).
    pub(crate) fn is_closed(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Whether new calls may use this connection: open and not retired by the server.
    pub(crate) fn is_usable(&self) -> bool {
        !self.is_closed() && !self.retired.load(Ordering::Acquire)
    }

    /// Closes a retired connection once no call waits on it (`left` calls are registered).
    fn close_if_retired_and_idle(&self, left: usize) {
        if left == 0 && self.retired.load(Ordering::Acquire) {
            self.close();
        }
    }

    /// Closes the connection: its task ends, its calls fail at once.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
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
        self.pending.len()
    }

    /// Registers a call waiting for `request_id` until `deadline` (past it, the call fails
    /// with its timeout error), to be woken through `waker`, the waker of the task that
    /// awaits the returned [`PendingCall`]. Fails if the connection already closed or the
    /// id is in use. Dropping the [`PendingCall`] before its outcome came forgets the call.
    pub(crate) fn register(
        &self,
        request_id: i32,
        deadline: Deadline,
        waker: &Waker,
    ) -> TarsResult<PendingCall<'_>> {
        match self.pending.register(request_id, deadline, waker) {
            Ok(()) => Ok(PendingCall {
                conn: self,
                id: request_id,
                done: false,
                registered_with: Some(identity(waker)),
            }),
            Err(RegisterError::Closed) => Err(self.closed_error()),
            Err(RegisterError::InUse) => Err(TarsError::Invalid(format!(
                "request id {request_id} is already in flight"
            ))),
        }
    }

    /// Appends a frame to the outbound queue with `encode`, waiting while too much is already
    /// queued (until `deadline`). A frame larger than the frame limit fails with
    /// [`TarsError::FrameTooLarge`] and nothing of it is queued.
    pub(crate) async fn send_with(
        &self,
        encode: impl FnOnce(&mut BytesMut) -> TarsResult<()>,
        deadline: Deadline,
    ) -> TarsResult<()> {
        if self.out.unsent() >= MAX_QUEUED_BYTES {
            // Boxed: the wait is rare, and every call's future would carry its size.
            Box::pin(self.wait_for_room(deadline)).await?;
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

    /// Waits until the queue has room, the connection closes or `deadline` passes.
    async fn wait_for_room(&self, deadline: Deadline) -> TarsResult<()> {
        tokio::select! {
            _ = self.out.room_below(MAX_QUEUED_BYTES) => Ok(()),
            _ = self.closed.cancelled() => Err(self.closed_error()),
            _ = tokio::time::sleep_until(deadline.at) => Err(deadline.expired()),
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
                self.close_if_retired_and_idle(self.pending.len());
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
        let id = response.request_id;
        if !self.pending.complete(response) {
            debug!(id, "response to no pending call dropped");
        }
    }
}

/// A registered call; awaiting it gives its outcome: the response, the connection's close,
/// or the timeout error once its deadline passed. Dropping it first (its caller went away)
/// takes it out of `pending`.
pub(crate) struct PendingCall<'a> {
    conn: &'a ClientConnection,
    id: i32,
    /// Set once the outcome was taken (the entry is gone from `pending` then).
    done: bool,
    /// Which waker the entry holds, until the first poll: a first poll with that same waker
    /// has nothing to look up (an outcome that came since has woken it, so it is polled
    /// again), and skips the table's lock.
    registered_with: Option<(usize, usize)>,
}

/// A waker's identity, as [`Waker::will_wake`] compares them.
fn identity(waker: &Waker) -> (usize, usize) {
    (
        waker.data() as usize,
        waker.vtable() as *const RawWakerVTable as usize,
    )
}

impl Future for PendingCall<'_> {
    type Output = TarsResult<ResponsePacket>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let conn = self.conn;
        if self.registered_with.take() == Some(identity(cx.waker())) {
            return Poll::Pending;
        }
        let taken = std::task::ready!(conn.pending.poll_take(self.id, cx));
        self.done = true;
        Poll::Ready(match taken {
            Some((outcome, left)) => {
                conn.close_if_retired_and_idle(left);
                outcome
            }
            // Only a bug could take the entry of a call that still waits.
            None => Err(conn.closed_error()),
        })
    }
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        if !self.done {
            let left = self.conn.pending.forget(self.id);
            self.conn.close_if_retired_and_idle(left);
        }
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
        conn.closing.store(true, Ordering::Release);
        // Fails every waiting call and refuses new ones (under the table's lock, so no
        // register slips past it).
        conn.pending.close(|| conn.closed_error());
        conn.closed.cancel();
        // Waiting senders see the close; nothing more is queued.
        conn.out.abort();
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
