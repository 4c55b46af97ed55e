//! One multiplexed client connection to one endpoint: calls are matched to responses by
//! request id; id 0 (a push) goes to the proxy's push callback; a dropped connection fails
//! every pending call at once. A server's `_reconnect_` notice retires the connection: new
//! calls go to a new one, the calls in flight still get their responses, then it closes.

use super::codec::ResponseDecoder;
use super::push::PushCallback;
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use crate::protocol::{ResponsePacket, RECONNECT_DESC};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

type Pending = HashMap<i32, oneshot::Sender<TarsResult<ResponsePacket>>>;

const WRITE_BATCH_BYTES: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// A live connection to one endpoint.
pub(crate) struct ClientConnection {
    pub(crate) endpoint: Endpoint,
    tx: mpsc::Sender<Bytes>,
    pending: Mutex<Pending>,
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
        queue_frames: usize,
    ) -> TarsResult<Arc<Self>> {
        let stream = TcpStream::connect(endpoint.socket_addr_string())
            .await
            .map_err(|e| TarsError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::channel(queue_frames);
        let conn = Arc::new(ClientConnection {
            endpoint,
            tx,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            closed: CancellationToken::new(),
            retired: AtomicBool::new(false),
        });
        if let Some(push) = &push {
            push.on_connect(&conn.endpoint);
        }
        tokio::spawn(run(stream, conn.clone(), rx, decoder, push));
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

    /// Registers a call waiting for `request_id`. Fails if the connection already closed or
    /// the id is in use.
    pub(crate) fn register(
        &self,
        request_id: i32,
    ) -> TarsResult<oneshot::Receiver<TarsResult<ResponsePacket>>> {
        let (tx, rx) = oneshot::channel();
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
        pending.insert(request_id, tx);
        Ok(rx)
    }

    /// Forgets a call (timed out or abandoned).
    pub(crate) fn unregister(&self, request_id: i32) {
        let mut pending = self.pending();
        pending.remove(&request_id);
        self.close_if_retired_and_idle(&pending);
    }

    /// Queues a frame for writing.
    pub(crate) async fn send(&self, frame: Bytes) -> TarsResult<()> {
        tokio::select! {
            sent = self.tx.send(frame) => sent.map_err(|_| self.closed_error()),
            _ = self.closed.cancelled() => Err(self.closed_error()),
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
            self.close_if_retired_and_idle(&pending);
            waiter
        };
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(Ok(response));
            }
            None => debug!(
                id = response.request_id,
                "response to no pending call dropped"
            ),
        }
    }

    fn fail_all(&self, reason: &str) {
        let drained: Vec<_> = self.pending().drain().collect();
        for (_, waiter) in drained {
            let _ = waiter.send(Err(TarsError::ConnectionClosed(format!(
                "connection to {} closed: {reason}",
                self.endpoint
            ))));
        }
    }
}

async fn run(
    mut stream: TcpStream,
    conn: Arc<ClientConnection>,
    mut rx: mpsc::Receiver<Bytes>,
    decoder: Arc<dyn ResponseDecoder>,
    push: Option<Arc<dyn PushCallback>>,
) {
    let (mut reader, mut writer) = stream.split();
    let mut read_buf = BytesMut::with_capacity(READ_CHUNK);
    let mut write_buf = BytesMut::new();
    let reason: String = loop {
        tokio::select! {
            biased;
            _ = conn.closed.cancelled() => break "closed".into(),
            frame = rx.recv() => {
                let Some(frame) = frame else { break "closed".into() };
                write_buf.extend_from_slice(&frame);
                while write_buf.len() < WRITE_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(f) => write_buf.extend_from_slice(&f),
                        Err(_) => break,
                    }
                }
                let written = tokio::select! {
                    r = writer.write_all(&write_buf) => r,
                    _ = conn.closed.cancelled() => break "closed".into(),
                };
                write_buf.clear();
                if let Err(e) = written {
                    break format!("write failed: {e}");
                }
            }
            read = reader.read_buf(&mut read_buf) => {
                match read {
                    Ok(0) => break "closed by server".into(),
                    Err(e) => break format!("read failed: {e}"),
                    Ok(_) => {}
                }
                let mut failure = None;
                loop {
                    match decoder.decode(&mut read_buf) {
                        Ok(Some(response)) => conn.complete(response, push.as_ref()),
                        Ok(None) => break,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = failure {
                    warn!(endpoint = %conn.endpoint, error = %e, "bad response, closing connection");
                    break e;
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
    conn.fail_all(&reason);
    if let Some(push) = &push {
        push.on_close(&conn.endpoint);
    }
}
