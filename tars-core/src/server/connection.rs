//! The task that owns one accepted connection: a full-duplex driver whose reader and writer
//! are two futures polled side by side, so reading never waits for writing. The reader splits
//! frames and hands them to the adapter's protocol; the writer ([`net::write_loop`]) drains
//! the connection's [`Outbound`](crate::net::Outbound) queue. The task also enforces the idle
//! timeout, drains on shutdown, and (from a drop guard) reports the close exactly once.
//!
//! Before the driver starts, the connection's setup ([`Setup`]) runs: the TLS handshake on
//! `ssl` endpoints and the AK/SK exchange on `-e 1` endpoints (see `handshake.rs`). The
//! driver itself takes any byte stream: a TCP socket (read without waiting while bytes keep
//! coming), or anything `AsyncRead + AsyncWrite` (TLS, an in-memory pipe).

use super::current::{CloseReason, Connection, Current};
use super::gate::GatePermit;
use super::handshake::{self, Setup};
use crate::net::{self, WriteError};
use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

/// Room reserved for a read.
const READ_CHUNK: usize = 8 * 1024;
/// While draining for a shutdown, a connection whose requests are answered and flushed
/// closes once nothing has arrived for this long (or at once when the peer closes).
const DRAIN_QUIET: Duration = Duration::from_millis(100);

/// What an adapter does with the frames of a connection.
pub(crate) trait ConnectionProtocol: Send + Sync + 'static {
    /// Splits one whole packet off `buf`: `Ok(None)` for "need more bytes"; an error closes
    /// the connection.
    fn split(&self, conn: &Connection, buf: &mut BytesMut) -> Result<Option<Bytes>, String>;

    /// Handles one packet without waiting. A reply that is ready at once is appended to
    /// `out` (queued after the current batch of packets); other work is spawned and queues
    /// its reply on the connection (see [`Connection::admit`]).
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

/// How a connection is run: its timeouts and the server's signals.
pub(crate) struct Driving {
    pub(crate) shutdown: CancellationToken,
    pub(crate) force_close: CancellationToken,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_stall_timeout: Duration,
}

/// The connection's places in the server's and the adapter's connection limits, released
/// when its task ends.
pub(crate) struct Slots {
    pub(crate) _server: OwnedSemaphorePermit,
    pub(crate) _adapter: GatePermit,
}

/// Runs a connection until it closes. Cleanup runs from a drop guard, so it also runs when
/// the task panics or is dropped.
///
/// What is shared by the adapter's connections comes as `Arc`s and the rest is moved into
/// the drop guard at once: an idle connection's memory is mostly this future, and an async
/// fn keeps its arguments for its whole life.
pub(crate) async fn run_connection<P: ConnectionProtocol>(
    stream: TcpStream,
    conn: Arc<Connection>,
    protocol: Arc<P>,
    driving: Arc<Driving>,
    setup: Arc<Setup>,
    slots: Slots,
) {
    let span = tracing::debug_span!("conn", uid = conn.uid, peer = %conn.peer);
    let mut cleanup = Cleanup {
        conn,
        protocol,
        reason: None,
        _slots: slots,
    };
    debug!(parent: &span, "accepted");
    let reason = drive(stream, &cleanup.conn, &*cleanup.protocol, &driving, &setup)
        .instrument(span)
        .await;
    cleanup.reason = Some(reason);
}

/// Ends a connection whatever happens: records the reason, runs the close hooks (registries
/// forget the connection), then the servant's `do_close`, each isolated from panics, and
/// finally releases the connection's slots of the connection limits.
struct Cleanup<P: ConnectionProtocol> {
    conn: Arc<Connection>,
    protocol: Arc<P>,
    reason: Option<CloseReason>,
    _slots: Slots,
}

impl<P: ConnectionProtocol> Drop for Cleanup<P> {
    fn drop(&mut self) {
        let reason = self.reason.take().unwrap_or_else(|| {
            CloseReason::Error("the connection task ended before the connection closed".into())
        });
        debug!(uid = self.conn.uid, %reason, "closed");
        self.conn.finish(reason);
        let current = Current {
            conn: self.conn.clone(),
            request: None,
        };
        let protocol = &self.protocol;
        if std::panic::catch_unwind(AssertUnwindSafe(|| protocol.on_close(&current))).is_err() {
            self.conn.panicked("do_close");
        }
    }
}

/// Sets the connection up (TLS, auth), then drives it.
async fn drive<P: ConnectionProtocol>(
    mut stream: TcpStream,
    conn: &Arc<Connection>,
    protocol: &P,
    driving: &Driving,
    setup: &Setup,
) -> CloseReason {
    let _ = stream.set_nodelay(true);
    if let Some(tls) = &setup.tls {
        // Boxed: a TLS stream is large, and plain connections should not carry its room.
        return Box::pin(drive_tls(tls, stream, conn, protocol, driving, setup)).await;
    }
    let initial = match handshake::authenticate(&mut stream, conn, setup).await {
        Ok(initial) => initial,
        Err(reason) => return reason,
    };
    // Shared with the outbound queue, so pushes to an idle connection are written at once.
    let stream = Arc::new(stream);
    conn.outbound.attach(stream.clone());
    let writer = net::SharedTcp(stream.clone());
    drive_loop(TcpRead(&stream), writer, initial, conn, protocol, driving).await
}

async fn drive_tls<P: ConnectionProtocol>(
    tls: &crate::tls::ServerTls,
    stream: TcpStream,
    conn: &Arc<Connection>,
    protocol: &P,
    driving: &Driving,
    setup: &Setup,
) -> CloseReason {
    let mut stream = match handshake::accept_tls(tls, stream, conn, setup).await {
        Ok(stream) => stream,
        Err(reason) => return reason,
    };
    let initial = match handshake::authenticate(&mut stream, conn, setup).await {
        Ok(initial) => initial,
        Err(reason) => return reason,
    };
    serve_stream(stream, initial, conn, protocol, driving).await
}

/// Drives a connection over any byte stream, starting with the bytes in `initial` (read
/// during setup).
pub(crate) async fn serve_stream<S, P>(
    stream: S,
    initial: BytesMut,
    conn: &Arc<Connection>,
    protocol: &P,
    driving: &Driving,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Send,
    P: ConnectionProtocol,
{
    let (reader, writer) = tokio::io::split(stream);
    drive_loop(AnyRead(reader), writer, initial, conn, protocol, driving).await
}

/// Splits and handles every whole frame in `buf`. `Some` when the connection must close.
fn handle_frames<P: ConnectionProtocol>(
    conn: &Arc<Connection>,
    protocol: &P,
    buf: &mut BytesMut,
    replies: &mut BytesMut,
    received: std::time::Instant,
) -> Option<CloseReason> {
    loop {
        match protocol.split(conn, buf) {
            Ok(Some(packet)) => protocol.on_packet(conn, packet, received, replies),
            Ok(None) => break,
            Err(e) => return Some(CloseReason::Error(e)),
        }
        if conn.closed_token().is_cancelled() {
            return Some(CloseReason::Closed);
        }
    }
    // Replies that were ready at once join the queue in one append (no copy when it is
    // empty); the writer sends them with whatever else is queued.
    let _ = conn.outbound.append_batch(replies);
    None
}

async fn drive_loop<R, W, P>(
    mut reader: R,
    mut writer: W,
    mut read_buf: BytesMut,
    conn: &Arc<Connection>,
    protocol: &P,
    driving: &Driving,
) -> CloseReason
where
    R: ReadMore,
    W: AsyncWrite + Unpin,
    P: ConnectionProtocol,
{
    // The writer: a long-lived future beside the reader, never awaited inside it.
    let write = net::write_loop(&mut writer, &conn.outbound, driving.write_stall_timeout);
    tokio::pin!(write);
    // Replies made on this task during one read batch, handed to the queue in one append.
    let mut replies = BytesMut::new();
    if !read_buf.is_empty() {
        let received = std::time::Instant::now();
        if let Some(reason) = handle_frames(conn, protocol, &mut read_buf, &mut replies, received) {
            return reason;
        }
    }
    let idle = driving.idle_timeout;
    // One timer for the idle timeout (and the drain checks), re-armed only when it fires:
    // activity just records the time, so the hot path never touches the timer wheel.
    let mut last_read = Instant::now();
    let mut last_activity = last_read;
    let mut written_seen = 0u64;
    let first = idle.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let timer = tokio::time::sleep(first);
    tokio::pin!(timer);
    let mut draining = false;
    // Waiting on a token registers a waiter; do it once, not once per loop. The connection's
    // token is a child of the server's force-close token: one wait for both.
    let closed_wait = conn.closed_token().cancelled();
    tokio::pin!(closed_wait);
    let shutdown_wait = driving.shutdown.cancelled();
    tokio::pin!(shutdown_wait);

    loop {
        // Unbiased: a flood of pushes to write must not starve reading, nor the reverse.
        tokio::select! {
            _ = &mut closed_wait => {
                return if driving.force_close.is_cancelled() {
                    CloseReason::Shutdown
                } else {
                    CloseReason::Closed
                };
            }
            _ = &mut shutdown_wait, if !draining => {
                draining = true;
                protocol.on_shutdown(conn);
                timer.as_mut().reset(Instant::now() + DRAIN_QUIET);
            }
            written = &mut write => {
                // The queue is only closed by `finish`, after this task is done: any end of
                // the writer is a failure.
                return match written {
                    Ok(()) => CloseReason::Closed,
                    Err(WriteError::Stalled(stall)) => {
                        warn!(uid = conn.uid, peer = %conn.peer, stall_ms = stall.as_millis() as u64,
                            unsent = conn.outbound.unsent(), "write stalled, closing the connection");
                        CloseReason::WriteStalled
                    }
                    Err(e @ WriteError::Io(_)) => CloseReason::Error(e.to_string()),
                };
            }
            read = reader.read_more(&mut read_buf) => {
                match read {
                    Ok(0) => return CloseReason::PeerClosed,
                    Ok(_) => {}
                    Err(e) => return CloseReason::Error(e.to_string()),
                }
                last_read = Instant::now();
                let received = std::time::Instant::now();
                if let Some(reason) =
                    handle_frames(conn, protocol, &mut read_buf, &mut replies, received)
                {
                    return reason;
                }
            }
            _ = &mut timer => {
                let now = Instant::now();
                let written = conn.outbound.written_total();
                if written != written_seen {
                    // The peer read something since the last check.
                    written_seen = written;
                    last_activity = now;
                }
                last_activity = last_activity.max(last_read);
                if draining
                    && conn.in_flight() == 0
                    && conn.outbound.unsent() == 0
                    && now >= last_read + DRAIN_QUIET
                {
                    // Answered, flushed, and nothing more arrives.
                    return CloseReason::Shutdown;
                }
                let next = match idle {
                    Some(idle) => {
                        let due = last_activity + idle;
                        if now >= due {
                            return CloseReason::IdleTimeout;
                        }
                        if draining { due.min(now + DRAIN_QUIET) } else { due }
                    }
                    None if draining => now + DRAIN_QUIET,
                    None => now + first,
                };
                timer.as_mut().reset(next);
            }
        }
    }
}

/// The read half of a connection: appends what arrives to `buf` (`Ok(0)`: the peer closed).
pub(crate) trait ReadMore {
    fn read_more(&mut self, buf: &mut BytesMut) -> impl Future<Output = std::io::Result<usize>>;
}

/// Any stream's read half: reads into a buffer kept at least half a chunk free.
pub(crate) struct AnyRead<R>(pub(crate) R);

impl<R: AsyncRead + Unpin> ReadMore for AnyRead<R> {
    async fn read_more(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        self.0.read_buf(buf).await
    }
}

/// A TCP socket, read without waiting while bytes keep coming, holding no buffer while the
/// connection is idle.
struct TcpRead<'a>(&'a TcpStream);

impl ReadMore for TcpRead<'_> {
    fn read_more(&mut self, buf: &mut BytesMut) -> impl Future<Output = std::io::Result<usize>> {
        read_tcp(self.0, buf)
    }
}

async fn read_tcp(reader: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
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
