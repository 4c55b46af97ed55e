//! The task that owns one accepted connection: a full-duplex driver whose reader and writer
//! are polled side by side, so reading never waits for writing. The reader splits frames and
//! hands them to the adapter's protocol; the writer ([`net::QueueWriter`]) drains the
//! connection's [`Outbound`](crate::net::Outbound) queue. A drop guard reports the close
//! exactly once. The idle timeout and the drain of a graceful shutdown are checked by the
//! adapter's sweep (`sweep.rs`), which closes the connection and wakes its driver.
//!
//! The driver is a hand-written future that holds no inner futures: the socket's readiness
//! and the queue each keep the task's waker themselves, so an idle connection's task is a
//! few hundred bytes.
//!
//! Before the driver starts, the connection's setup ([`Setup`]) runs: the TLS handshake on
//! `ssl` endpoints and the AK/SK exchange on `-e 1` endpoints (see `handshake.rs`). The
//! driver itself takes any byte stream: a TCP socket (read without waiting while bytes keep
//! coming), or anything `AsyncRead + AsyncWrite` (TLS, an in-memory pipe).

use super::current::{CloseReason, Connection, Current};
use super::gate::GatePermit;
use super::handshake::{self, Setup};
use super::sweep::{Sweep, Watched};
use crate::net::{self, QueueWriter, WriteError};
use bytes::{Bytes, BytesMut};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

/// Room reserved for a read.
const READ_CHUNK: usize = 8 * 1024;
/// Rounds of write-then-read one poll runs before it yields to the other tasks.
const ROUNDS_PER_POLL: usize = 16;

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

/// How an adapter's connections are run: timeouts, the server's signals and the sweep that
/// watches them.
pub(crate) struct Driving {
    pub(crate) shutdown: CancellationToken,
    pub(crate) force_close: CancellationToken,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_stall_timeout: Duration,
    pub(crate) sweep: Sweep,
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
        driving,
        reason: None,
        _slots: slots,
    };
    debug!(parent: &span, "accepted");
    let reason = drive(
        stream,
        &cleanup.conn,
        &*cleanup.protocol,
        &cleanup.driving,
        &setup,
    )
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
    driving: Arc<Driving>,
    reason: Option<CloseReason>,
    _slots: Slots,
}

impl<P: ConnectionProtocol> Drop for Cleanup<P> {
    fn drop(&mut self) {
        let reason = self.reason.take().unwrap_or_else(|| {
            CloseReason::Error("the connection task ended before the connection closed".into())
        });
        self.conn.finish(reason);
        let current = Current {
            conn: self.conn.clone(),
            request: None,
        };
        debug!(uid = self.conn.uid, reason = ?current.close_reason(), "closed");
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
    let mut initial = BytesMut::new();
    if setup.auth.is_some() {
        // Boxed: the exchange is short-lived, and its state would be room in every task.
        match Box::pin(handshake::authenticate(&mut stream, conn, setup)).await {
            Ok(bytes) => initial = bytes,
            Err(reason) => return reason,
        }
    }
    // Shared with the outbound queue, so pushes to an idle connection are written at once.
    let stream = Arc::new(stream);
    conn.outbound.attach(stream.clone());
    let writer = net::SharedTcp(stream.clone());
    Driver::new(TcpRead(stream), writer, initial, conn, protocol, driving).await
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
    Driver::new(AnyRead(reader), writer, initial, conn, protocol, driving).await
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
        if conn.is_closing() {
            return Some(CloseReason::Closed);
        }
    }
    // Replies that were ready at once join the queue in one append (no copy when it is
    // empty); the writer sends them with whatever else is queued.
    let _ = conn.outbound.append_batch(replies);
    None
}

/// The connection's driver: polls the writer, then the reader, until neither can go on.
struct Driver<'a, R, W, P> {
    reader: R,
    writer: W,
    queue: QueueWriter,
    read_buf: BytesMut,
    /// Replies made on this task during one read batch, handed to the queue in one append.
    replies: BytesMut,
    /// `read_buf` holds bytes read during setup, not yet handled.
    setup_bytes: bool,
    /// The adapter's sweep watches the connection while its driver lives.
    _watched: Watched<'a>,
    conn: &'a Arc<Connection>,
    protocol: &'a P,
    driving: &'a Driving,
}

impl<'a, R, W, P> Driver<'a, R, W, P>
where
    R: ReadMore + Unpin,
    W: AsyncWrite + Unpin,
    P: ConnectionProtocol,
{
    fn new(
        reader: R,
        writer: W,
        read_buf: BytesMut,
        conn: &'a Arc<Connection>,
        protocol: &'a P,
        driving: &'a Driving,
    ) -> Self {
        Driver {
            reader,
            writer,
            queue: QueueWriter::new(false),
            setup_bytes: !read_buf.is_empty(),
            _watched: driving.sweep.watch(conn),
            read_buf,
            replies: BytesMut::new(),
            conn,
            protocol,
            driving,
        }
    }

    /// Handles the frames read so far. `Some` when the connection must close.
    fn handle(&mut self) -> Option<CloseReason> {
        let received = std::time::Instant::now();
        self.conn.read_at(self.driving.sweep.now_ms());
        handle_frames(
            self.conn,
            self.protocol,
            &mut self.read_buf,
            &mut self.replies,
            received,
        )
    }
}

impl<R, W, P> std::future::Future for Driver<'_, R, W, P>
where
    R: ReadMore + Unpin,
    W: AsyncWrite + Unpin,
    P: ConnectionProtocol,
{
    type Output = CloseReason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CloseReason> {
        let this = self.get_mut();
        if std::mem::take(&mut this.setup_bytes) {
            if let Some(reason) = this.handle() {
                return Poll::Ready(reason);
            }
        }
        for _ in 0..ROUNDS_PER_POLL {
            // Whoever closes the connection wakes this task through its queue, whatever the
            // writer waits for: register first, then look.
            this.conn.outbound.register(cx.waker());
            // Closed by a handler, the registry, a limit or a force close.
            if this.conn.is_closing() {
                return Poll::Ready(if this.conn.server_force_closed() {
                    CloseReason::Shutdown
                } else {
                    CloseReason::Closed
                });
            }
            // Idle or drained, as the sweep found: between read batches, so nothing read is
            // left unanswered.
            if let Some(reason) = this.conn.requested_close() {
                return Poll::Ready(reason);
            }
            let stall = this.driving.write_stall_timeout;
            if let Poll::Ready(written) =
                this.queue
                    .poll_write(cx, &mut this.writer, &this.conn.outbound, stall)
            {
                return Poll::Ready(writer_ended(this.conn, written));
            }
            match this.reader.poll_read_more(cx, &mut this.read_buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => return Poll::Ready(CloseReason::PeerClosed),
                Poll::Ready(Err(e)) => return Poll::Ready(CloseReason::Error(e.to_string())),
                Poll::Ready(Ok(_)) => {
                    // The replies appended here wake this task once more. Kept on purpose:
                    // forgetting the waker first (the next round writes them anyway) cost
                    // 2 × 1 round trips about 30 µs of their ~60 (the worker then parks
                    // before the next request and the task is woken cold), measured.
                    if let Some(reason) = this.handle() {
                        return Poll::Ready(reason);
                    }
                }
            }
        }
        // Busy: let the runtime's other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Why the connection ends when its writer stopped. The queue is only closed by `finish`,
/// after the task is done: any end of the writer is a failure.
fn writer_ended(conn: &Connection, written: Result<(), WriteError>) -> CloseReason {
    match written {
        Ok(()) => CloseReason::Closed,
        Err(WriteError::Stalled(stall)) => {
            warn!(uid = conn.uid, peer = %conn.peer, stall_ms = stall.as_millis() as u64,
                unsent = conn.outbound.unsent(), "write stalled, closing the connection");
            CloseReason::WriteStalled
        }
        Err(e @ WriteError::Io(_)) => CloseReason::Error(e.to_string()),
    }
}

/// The read half of a connection: appends what arrives to `buf` (`Ok(0)`: the peer closed).
pub(crate) trait ReadMore {
    fn poll_read_more(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<std::io::Result<usize>>;
}

/// Any stream's read half: reads into a buffer kept at least half a chunk free.
pub(crate) struct AnyRead<R>(pub(crate) R);

impl<R: AsyncRead + Unpin> ReadMore for AnyRead<R> {
    fn poll_read_more(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<std::io::Result<usize>> {
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, buf)
    }
}

/// A TCP socket, read without waiting while bytes keep coming, holding no buffer while the
/// connection is idle.
struct TcpRead(Arc<TcpStream>);

impl ReadMore for TcpRead {
    fn poll_read_more(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<std::io::Result<usize>> {
        use std::io::ErrorKind::WouldBlock;
        let socket = &*self.0;
        loop {
            if buf.capacity() > buf.len() {
                // Under load the next bytes are usually there already: no readiness poll.
                match socket.try_read_buf(buf) {
                    Ok(n) => return Poll::Ready(Ok(n)),
                    Err(e) if e.kind() == WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
                // Nothing to read: an idle connection holds no read buffer while it waits.
                if buf.is_empty() {
                    *buf = BytesMut::new();
                }
            }
            ready!(socket.poll_read_ready(cx))?;
            if buf.capacity() == 0 {
                // Readiness can be reported with nothing to read (a fresh connection is):
                // probe on the stack before taking a heap buffer.
                let mut probe = [0u8; 1024];
                match socket.try_read(&mut probe) {
                    Ok(0) => return Poll::Ready(Ok(0)),
                    Ok(n) => {
                        buf.reserve(READ_CHUNK);
                        buf.extend_from_slice(&probe[..n]);
                        return Poll::Ready(Ok(n));
                    }
                    Err(e) if e.kind() == WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 2 {
                buf.reserve(READ_CHUNK);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::current::ConnLimits;
    use crate::server::gate::Gate;
    use crate::server::limit::ServerState;
    use crate::server::ServerConfig;

    /// A protocol that ignores every byte.
    struct Ignore;

    impl ConnectionProtocol for Ignore {
        fn split(&self, _: &Connection, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
            buf.clear();
            Ok(None)
        }
        fn on_packet(
            &self,
            _: &Arc<Connection>,
            _: Bytes,
            _: std::time::Instant,
            _: &mut BytesMut,
        ) {
        }
        fn on_shutdown(&self, _: &Arc<Connection>) {}
        fn on_close(&self, _: &Current) {}
    }

    /// The task of an idle connection is most of its memory: keep it within its budget (the
    /// round-2 target is 2 KiB for a whole registered push connection).
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let config = ServerConfig::default();
        let conn = Arc::new(Connection::new(
            1,
            peer,
            peer,
            "App.Server.Obj".into(),
            ConnLimits::from_config(&config),
            ServerState::new(1, 1),
            CancellationToken::new(),
        ));
        let driving = Arc::new(Driving {
            shutdown: CancellationToken::new(),
            force_close: CancellationToken::new(),
            idle_timeout: None,
            write_stall_timeout: config.write_stall_timeout,
            sweep: Sweep::new(),
        });
        let gate = Gate::new(Default::default());
        let slots = Slots {
            _server: Arc::new(tokio::sync::Semaphore::new(1))
                .try_acquire_owned()
                .unwrap(),
            _adapter: gate.admit(peer.ip()).unwrap(),
        };
        let task = run_connection(
            stream,
            conn,
            Arc::new(Ignore),
            driving,
            Arc::new(Setup::default()),
            slots,
        );
        let size = std::mem::size_of_val(&task);
        println!("connection task: {size} bytes");
        assert!(size <= 768, "the connection task grew to {size} bytes");
    }
}
