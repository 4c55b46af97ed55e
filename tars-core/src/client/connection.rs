//! One multiplexed client connection to one endpoint: calls are matched to responses by
//! request id; id 0 (a push) goes to the proxy's push callback; a dropped connection fails
//! every pending call at once. A server's `_reconnect_` notice retires the connection: new
//! calls go to a new one, the calls in flight still get their responses, then it closes.
//!
//! Callers encode their frames straight into the connection's shared write buffer and wake
//! its task only when the buffer was empty; the task swaps the buffer out and writes it in
//! one go. Deadlines of pending calls are enforced by the task's sweep, so a call registers
//! no timer of its own.

use super::codec::ResponseDecoder;
use super::push::PushCallback;
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use crate::protocol::{ResponsePacket, RECONNECT_DESC};
use bytes::BytesMut;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// A call waiting for its response.
struct Waiter {
    reply: oneshot::Sender<TarsResult<ResponsePacket>>,
    deadline: Instant,
    timeout: Duration,
}

type Pending = HashMap<i32, Waiter>;

const READ_CHUNK: usize = 16 * 1024;
/// Bytes queued for writing before callers wait for the task to catch up.
const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;
/// How often deadlines are checked while calls are pending.
const SWEEP_EVERY: Duration = Duration::from_millis(5);
/// Write buffers that grew past this are released once written.
const KEEP_BUFFER_CAPACITY: usize = 256 * 1024;

/// A live connection to one endpoint.
pub(crate) struct ClientConnection {
    pub(crate) endpoint: Endpoint,
    /// Frames waiting to be written.
    out: Mutex<BytesMut>,
    /// Wakes the task when `out` goes from empty to non-empty.
    out_ready: Notify,
    /// Wakes callers waiting for room in `out`.
    out_room: Notify,
    pending: Mutex<Pending>,
    pending_count: AtomicUsize,
    next_id: AtomicU32,
    closed: CancellationToken,
    /// Set by the server's `_reconnect_` notice: no new calls; closes once none is pending.
    retired: AtomicBool,
}

impl ClientConnection {
    /// Connects and starts the connection's task.
    pub(crate) async fn connect(
        endpoint: Endpoint,
        decoder: Arc<dyn ResponseDecoder>,
        push: Option<Arc<dyn PushCallback>>,
    ) -> TarsResult<Arc<Self>> {
        let stream = TcpStream::connect(endpoint.socket_addr_string())
            .await
            .map_err(|e| TarsError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let conn = Arc::new(ClientConnection {
            endpoint,
            out: Mutex::new(BytesMut::new()),
            out_ready: Notify::new(),
            out_room: Notify::new(),
            pending: Mutex::new(HashMap::new()),
            pending_count: AtomicUsize::new(0),
            next_id: AtomicU32::new(1),
            closed: CancellationToken::new(),
            retired: AtomicBool::new(false),
        });
        if let Some(push) = &push {
            push.on_connect(&conn.endpoint);
        }
        tokio::spawn(run(stream, conn.clone(), decoder, push));
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

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a call waiting for `request_id`, failed with [`TarsError::Timeout`] if no
    /// response comes by `deadline`. Fails if the connection already closed or the id is in
    /// use.
    pub(crate) fn register(
        &self,
        request_id: i32,
        deadline: Instant,
        timeout: Duration,
    ) -> TarsResult<oneshot::Receiver<TarsResult<ResponsePacket>>> {
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
        pending.insert(
            request_id,
            Waiter {
                reply,
                deadline,
                timeout,
            },
        );
        self.pending_count.store(pending.len(), Ordering::Release);
        Ok(rx)
    }

    /// Forgets a call (abandoned).
    pub(crate) fn unregister(&self, request_id: i32) {
        let mut pending = self.pending();
        pending.remove(&request_id);
        self.pending_count.store(pending.len(), Ordering::Release);
        self.close_if_retired_and_idle(&pending);
    }

    /// Appends a frame to the write buffer with `encode`, waiting (until `deadline`) while
    /// too much is already queued.
    pub(crate) async fn send_with(
        &self,
        deadline: Instant,
        encode: impl FnOnce(&mut BytesMut) -> TarsResult<()>,
    ) -> TarsResult<()> {
        loop {
            let room = self.out_room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                if self.is_closed() {
                    return Err(self.closed_error());
                }
                if out.len() < MAX_QUEUED_BYTES {
                    let was_empty = out.is_empty();
                    encode(&mut out)?;
                    drop(out);
                    if was_empty {
                        self.out_ready.notify_one();
                    }
                    return Ok(());
                }
            }
            tokio::select! {
                _ = room => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(TarsError::Timeout(0));
                }
                _ = self.closed.cancelled() => return Err(self.closed_error()),
            }
        }
    }

    fn closed_error(&self) -> TarsError {
        TarsError::ConnectionClosed(format!("connection to {} closed", self.endpoint))
    }

    fn complete(&self, response: ResponsePacket, push: Option<&Arc<dyn PushCallback>>) {
        if response.request_id == 0 {
            if response.result_desc == RECONNECT_DESC {
                // The server is shutting down gracefully: it still answers the calls it has
                // read, so only new calls move to a new connection (as TarsGo's GraceClose).
                debug!(endpoint = %self.endpoint, "server asked to reconnect");
                self.retired.store(true, Ordering::Release);
                self.close_if_retired_and_idle(&self.pending());
                return;
            }
            match push {
                Some(push) => push.on_push(&self.endpoint, response),
                None => debug!(endpoint = %self.endpoint, "push without a push callback dropped"),
            }
            return;
        }
        let waiter = {
            let mut pending = self.pending();
            let waiter = pending.remove(&response.request_id);
            self.pending_count.store(pending.len(), Ordering::Release);
            self.close_if_retired_and_idle(&pending);
            waiter
        };
        match waiter {
            Some(waiter) => {
                let _ = waiter.reply.send(Ok(response));
            }
            None => debug!(
                id = response.request_id,
                "response to no pending call dropped"
            ),
        }
    }

    /// Fails the calls whose deadline passed.
    fn sweep(&self, now: Instant) {
        let expired: Vec<Waiter> = {
            let mut pending = self.pending();
            let ids: Vec<i32> = pending
                .iter()
                .filter(|(_, w)| w.deadline <= now)
                .map(|(id, _)| *id)
                .collect();
            let expired = ids.iter().filter_map(|id| pending.remove(id)).collect();
            self.pending_count.store(pending.len(), Ordering::Release);
            self.close_if_retired_and_idle(&pending);
            expired
        };
        for waiter in expired {
            let ms = waiter.timeout.as_millis() as u64;
            let _ = waiter.reply.send(Err(TarsError::Timeout(ms)));
        }
    }

    fn fail_all(&self, reason: &str) {
        let drained: Vec<_> = {
            let mut pending = self.pending();
            self.pending_count.store(0, Ordering::Release);
            pending.drain().collect()
        };
        for (_, waiter) in drained {
            let _ = waiter.reply.send(Err(TarsError::ConnectionClosed(format!(
                "connection to {} closed: {reason}",
                self.endpoint
            ))));
        }
    }
}

async fn run(
    mut stream: TcpStream,
    conn: Arc<ClientConnection>,
    decoder: Arc<dyn ResponseDecoder>,
    push: Option<Arc<dyn PushCallback>>,
) {
    let (mut reader, mut writer) = stream.split();
    let mut read_buf = BytesMut::with_capacity(READ_CHUNK);
    let mut writing = BytesMut::new();
    let closed_wait = conn.closed.cancelled();
    tokio::pin!(closed_wait);
    // One timer, re-armed only while calls are pending.
    let sweep_timer = tokio::time::sleep(SWEEP_EVERY);
    tokio::pin!(sweep_timer);
    let reason: String = 'run: loop {
        let has_pending = conn.pending_count.load(Ordering::Acquire) > 0;
        tokio::select! {
            // Unbiased: a flood of pushes to read must not starve writing, nor the reverse.
            _ = &mut closed_wait => break "closed".into(),
            _ = &mut sweep_timer, if has_pending => {
                let now = Instant::now();
                conn.sweep(now);
                sweep_timer.as_mut().reset(now + SWEEP_EVERY);
            }
            _ = conn.out_ready.notified() => {
                // Let the callers that are ready to run add their frames first: one write
                // then carries many requests.
                tokio::task::yield_now().await;
                std::mem::swap(&mut *conn.out.lock().unwrap_or_else(|e| e.into_inner()), &mut writing);
                conn.out_room.notify_waiters();
                let mut written = 0;
                while written < writing.len() {
                    // `write` is cancel-safe, so deadlines keep being enforced while a slow
                    // server holds up the socket.
                    tokio::select! {
                        biased;
                        _ = &mut closed_wait => break 'run "closed".into(),
                        r = writer.write(&writing[written..]) => match r {
                            Ok(0) => break 'run "write returned 0".into(),
                            Ok(n) => written += n,
                            Err(e) => break 'run format!("write failed: {e}"),
                        },
                        _ = &mut sweep_timer => {
                            let now = Instant::now();
                            conn.sweep(now);
                            sweep_timer.as_mut().reset(now + SWEEP_EVERY);
                        }
                    }
                }
                writing.clear();
                if writing.capacity() > KEEP_BUFFER_CAPACITY {
                    writing = BytesMut::new();
                }
            }
            read = reader.read_buf(&mut read_buf) => {
                match read {
                    Ok(0) => break "closed by server".into(),
                    Err(e) => break format!("read failed: {e}"),
                    Ok(_) => {}
                }
                loop {
                    match decoder.decode(&mut read_buf) {
                        Ok(Some(response)) => conn.complete(response, push.as_ref()),
                        Ok(None) => break,
                        Err(e) => {
                            warn!(endpoint = %conn.endpoint, error = %e, "bad response, closing connection");
                            break 'run e;
                        }
                    }
                }
                if read_buf.capacity() - read_buf.len() < READ_CHUNK / 4 {
                    read_buf.reserve(READ_CHUNK);
                }
            }
        }
    };
    debug!(endpoint = %conn.endpoint, %reason, "client connection closed");
    {
        // Taking the pending lock orders this against `register`.
        let _guard = conn.pending();
        conn.closed.cancel();
    }
    // Waiting senders see the close.
    conn.out_room.notify_waiters();
    conn.fail_all(&reason);
    if let Some(push) = &push {
        push.on_close(&conn.endpoint);
    }
}
