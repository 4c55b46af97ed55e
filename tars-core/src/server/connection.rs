//! The task that owns one accepted connection: it reads and splits frames, hands them to the
//! adapter's protocol, writes queued frames in batches, enforces the idle timeout, drains on
//! shutdown and reports the close exactly once.

use super::current::{CloseReason, Connection, Current};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, Instrument};

/// How many bytes of queued frames are gathered into one write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
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
    outbound: mpsc::Receiver<Bytes>,
    protocol: Arc<P>,
    shutdown: CancellationToken,
    force_close: CancellationToken,
    idle_timeout: Option<Duration>,
) {
    let span = tracing::debug_span!("conn", uid = conn.uid, peer = %conn.peer);
    async move {
        debug!("accepted");
        let reason = tokio::select! {
            reason = drive(stream, &conn, outbound, &*protocol, shutdown, idle_timeout) => reason,
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
    mut outbound: mpsc::Receiver<Bytes>,
    protocol: &P,
    shutdown: CancellationToken,
    idle_timeout: Option<Duration>,
) -> CloseReason {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.split();
    let mut read_buf = BytesMut::new();
    let mut write_buf = BytesMut::new();
    let idle = idle_timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let mut deadline = Instant::now() + idle;
    let mut draining = false;
    let closed = conn.closed_token().clone();

    loop {
        tokio::select! {
            biased;
            _ = closed.cancelled() => return CloseReason::Closed,
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                protocol.on_shutdown(conn);
            }
            frame = outbound.recv() => {
                // The connection keeps a sender, so the queue never ends while we run.
                let Some(frame) = frame else { return CloseReason::Closed };
                if let Err(e) = write_out(&mut writer, &mut outbound, &mut write_buf, Some(frame), &closed).await {
                    return e;
                }
                deadline = Instant::now() + idle;
            }
            _ = conn.drained(), if draining => {
                // Flush what the finished requests queued, then close.
                while let Ok(frame) = outbound.try_recv() {
                    if let Err(e) = write_out(&mut writer, &mut outbound, &mut write_buf, Some(frame), &closed).await {
                        return e;
                    }
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
                deadline = Instant::now() + idle;
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
                if read_buf.is_empty() && read_buf.capacity() > KEEP_BUFFER_CAPACITY {
                    read_buf = BytesMut::new();
                }
                // Replies that were ready at once go out in one write, with anything queued.
                if !write_buf.is_empty() {
                    if let Err(e) = write_out(&mut writer, &mut outbound, &mut write_buf, None, &closed).await {
                        return e;
                    }
                    deadline = Instant::now() + idle;
                }
            }
            _ = tokio::time::sleep_until(deadline), if idle_timeout.is_some() => {
                return CloseReason::IdleTimeout;
            }
        }
    }
}

async fn read_more(
    reader: &mut tokio::net::tcp::ReadHalf<'_>,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    // Wait for data before reserving, so an idle connection holds no read buffer.
    reader.readable().await?;
    if buf.capacity() - buf.len() < READ_CHUNK {
        buf.reserve(READ_CHUNK);
    }
    reader.read_buf(buf).await
}

/// Writes what `buf` holds, plus `first` and whatever else is queued, up to
/// [`WRITE_BATCH_BYTES`] gathered, in one write; a frame of that size or more is written
/// as it is.
async fn write_out(
    writer: &mut tokio::net::tcp::WriteHalf<'_>,
    outbound: &mut mpsc::Receiver<Bytes>,
    buf: &mut BytesMut,
    first: Option<Bytes>,
    closed: &CancellationToken,
) -> Result<(), CloseReason> {
    let mut large = None;
    match first {
        Some(frame) if frame.len() >= WRITE_BATCH_BYTES => large = Some(frame),
        Some(frame) => buf.extend_from_slice(&frame),
        None => {}
    }
    while large.is_none() && buf.len() < WRITE_BATCH_BYTES {
        match outbound.try_recv() {
            Ok(frame) if frame.len() >= WRITE_BATCH_BYTES => large = Some(frame),
            Ok(frame) => buf.extend_from_slice(&frame),
            Err(_) => break,
        }
    }
    let io = async {
        if !buf.is_empty() {
            writer.write_all(buf).await?;
        }
        if let Some(frame) = &large {
            writer.write_all(frame).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let result = tokio::select! {
        r = io => r,
        _ = closed.cancelled() => return Err(CloseReason::Closed),
    };
    buf.clear();
    if buf.capacity() > KEEP_BUFFER_CAPACITY * 4 {
        *buf = BytesMut::new();
    }
    result.map_err(|e| CloseReason::Error(e.to_string()))
}
