//! The task that owns one accepted connection: it reads and splits frames, hands them to the
//! adapter's protocol, writes queued frames in batches, enforces the idle timeout, drains on
//! shutdown and reports the close exactly once.

use super::current::{CloseReason, Connection, Current};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, Instrument};

/// Room reserved for a read.
const READ_CHUNK: usize = 8 * 1024;
/// Buffers that grew past this are released once empty, so an idle connection holds little.
const KEEP_BUFFER_CAPACITY: usize = 64 * 1024;

/// What an adapter does with the frames of a connection.
pub(crate) trait ConnectionProtocol: Send + Sync + 'static {
    /// Splits one whole packet off `buf`: `Ok(None)` for "need more bytes"; an error closes
    /// the connection.
    fn split(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, String>;

    /// Handles one packet without waiting. A reply that is ready at once is appended to
    /// `out` (written after the current batch of packets); other work is spawned and queues
    /// its reply on the connection (see [`Connection::try_begin_request`]).
    /// `received` is when the bytes were read (requests measure their queueing from it).
    fn on_packet(
        &self,
        conn: &Arc<Connection>,
        packet: Bytes,
        received: std::time::Instant,
        out: &mut BytesMut,
    );

    /// Called when the server starts a graceful shutdown, before draining.
    fn on_shutdown(&self, conn: &Arc<Connection>);

    /// Called once when the connection has closed.
    fn on_close(&self, current: &Current);
}

/// Runs a connection until it closes.
pub(crate) async fn run_connection<P: ConnectionProtocol>(
    stream: TcpStream,
    conn: Arc<Connection>,
    protocol: Arc<P>,
    shutdown: CancellationToken,
    force_close: CancellationToken,
    idle_timeout: Option<Duration>,
) {
    let span = tracing::debug_span!("conn", uid = conn.uid, peer = %conn.peer);
    async move {
        debug!("accepted");
        let reason = tokio::select! {
            reason = drive(stream, &conn, &*protocol, shutdown, idle_timeout) => reason,
            _ = force_close.cancelled() => CloseReason::Shutdown,
        };
        debug!(%reason, "closed");
        conn.finish(reason);
        protocol.on_close(&Current {
            conn: conn.clone(),
            request: None,
        });
    }
    .instrument(span)
    .await
}

async fn drive<P: ConnectionProtocol>(
    mut stream: TcpStream,
    conn: &Arc<Connection>,
    protocol: &P,
    shutdown: CancellationToken,
    idle_timeout: Option<Duration>,
) -> CloseReason {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.split();
    let mut read_buf = BytesMut::new();
    // Replies made on this task, and the frames other tasks queued, taken in one swap.
    let mut write_buf = BytesMut::new();
    let mut batch = BytesMut::new();
    let idle = idle_timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    // One timer for the idle timeout, re-armed only when it fires early: activity just
    // records the time, so the hot path never touches the timer wheel.
    let mut last_activity = Instant::now();
    let idle_timer = tokio::time::sleep(idle);
    tokio::pin!(idle_timer);
    let mut draining = false;
    let closed = conn.closed_token().clone();
    // Waiting on a token registers a waiter; do it once, not once per loop.
    let closed_wait = closed.cancelled();
    tokio::pin!(closed_wait);
    let shutdown_wait = shutdown.cancelled();
    tokio::pin!(shutdown_wait);

    loop {
        // Unbiased: a flood of pushes to write must not starve reading, nor the reverse.
        tokio::select! {
            _ = &mut closed_wait => return CloseReason::Closed,
            _ = &mut shutdown_wait, if !draining => {
                draining = true;
                protocol.on_shutdown(conn);
            }
            _ = conn.outbound_ready.notified() => {
                if let Err(e) = flush(&mut writer, conn, &mut write_buf, &mut batch, &closed).await {
                    return e;
                }
                last_activity = Instant::now();
            }
            _ = conn.drained(), if draining => {
                // Flush what the finished requests queued, then close.
                if let Err(e) = flush(&mut writer, conn, &mut write_buf, &mut batch, &closed).await {
                    return e;
                }
                let _ = writer.shutdown().await;
                return CloseReason::Shutdown;
            }
            read = read_more(&mut reader, &mut read_buf), if !draining => {
                match read {
                    Ok(0) => return CloseReason::PeerClosed,
                    Ok(_) => {}
                    Err(e) => return CloseReason::Error(e.to_string()),
                }
                last_activity = Instant::now();
                let received = std::time::Instant::now();
                loop {
                    match protocol.split(&mut read_buf) {
                        Ok(Some(packet)) => protocol.on_packet(conn, packet, received, &mut write_buf),
                        Ok(None) => break,
                        Err(e) => return CloseReason::Error(e),
                    }
                    if conn.closed_token().is_cancelled() {
                        return CloseReason::Closed;
                    }
                }
                // Replies that were ready at once go out in one write, with anything queued.
                if !write_buf.is_empty() {
                    if let Err(e) = flush(&mut writer, conn, &mut write_buf, &mut batch, &closed).await {
                        return e;
                    }
                    last_activity = Instant::now();
                }
            }
            _ = &mut idle_timer, if idle_timeout.is_some() => {
                let due = last_activity + idle;
                if Instant::now() >= due {
                    return CloseReason::IdleTimeout;
                }
                idle_timer.as_mut().reset(due);
            }
        }
    }
}

async fn read_more(
    reader: &mut tokio::net::tcp::ReadHalf<'_>,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    use std::io::ErrorKind::WouldBlock;
    loop {
        if buf.capacity() > buf.len() {
            // Under load the next bytes are usually there already: no wait, no readiness poll.
            match reader.try_read_buf(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == WouldBlock => {}
                Err(e) => return Err(e),
            }
            // Nothing to read: an idle connection holds no read buffer while it waits.
            if buf.is_empty() {
                *buf = BytesMut::new();
            }
        }
        reader.readable().await?;
        if buf.capacity() == 0 {
            // Readiness can be reported with nothing to read (a fresh connection is): probe
            // on the stack before taking a heap buffer.
            let mut probe = [0u8; 1024];
            match reader.try_read(&mut probe) {
                Ok(0) => return Ok(0),
                Ok(n) => {
                    buf.reserve(READ_CHUNK);
                    buf.extend_from_slice(&probe[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
    }
}

/// Writes the replies made on this task (`local`) and every frame queued on the connection,
/// in one write when the socket takes it at once.
async fn flush(
    writer: &mut tokio::net::tcp::WriteHalf<'_>,
    conn: &Connection,
    local: &mut BytesMut,
    batch: &mut BytesMut,
    closed: &CancellationToken,
) -> Result<(), CloseReason> {
    conn.take_outbound(batch);
    let queued = batch.len();
    if local.is_empty() {
        std::mem::swap(local, batch);
    } else if !batch.is_empty() {
        local.extend_from_slice(batch);
        batch.clear();
    }
    let result = write_all(writer, local, closed).await;
    conn.written(queued);
    local.clear();
    if local.capacity() > KEEP_BUFFER_CAPACITY * 4 {
        *local = BytesMut::new();
    }
    if batch.capacity() > KEEP_BUFFER_CAPACITY * 4 {
        *batch = BytesMut::new();
    }
    result
}

/// Writes `buf`: without awaiting when the socket takes it all (the usual case), otherwise
/// waiting for the socket unless the connection is closed meanwhile.
async fn write_all(
    writer: &mut tokio::net::tcp::WriteHalf<'_>,
    buf: &[u8],
    closed: &CancellationToken,
) -> Result<(), CloseReason> {
    let mut written = 0;
    while written < buf.len() {
        match writer.try_write(&buf[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    if written == buf.len() {
        return Ok(());
    }
    tokio::select! {
        r = writer.write_all(&buf[written..]) => r.map_err(|e| CloseReason::Error(e.to_string())),
        _ = closed.cancelled() => Err(CloseReason::Closed),
    }
}
