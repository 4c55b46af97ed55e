//! [`Outbound`]: one connection's queue of bytes to write, shared by every task that produces
//! frames for it (callers, handlers, pushes) and the one writer that drains it. A push to an
//! idle TCP connection skips the queue: it is written to the socket at once (see
//! [`Outbound::push`]).

use bytes::BytesMut;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Queued bytes are kept in one buffer; buffers that grew past this are released once drained.
const KEEP_CAPACITY: usize = 256 * 1024;

/// The queue was closed: nothing more is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// Why [`Outbound::append_with`] appended nothing.
#[derive(Debug)]
pub(crate) enum AppendError<E> {
    /// The queue was closed.
    Closed,
    /// The producer's own error; whatever it wrote was taken back.
    Write(E),
}

struct Queue {
    buf: BytesMut,
    /// No more appends; the writer ends once `buf` is written.
    closed: bool,
    /// The socket the writer drains into, when producers may write to it directly.
    socket: Option<Arc<TcpStream>>,
}

/// A connection's outbound bytes.
///
/// Producers append under a short lock; the writer swaps the whole buffer out and writes it
/// in one go, so many frames share one `write`. `unsent` counts bytes appended and not yet
/// written (queued or in the writer's hands): the slow-consumer and back-pressure limits read
/// it without taking the lock.
pub(crate) struct Outbound {
    queue: Mutex<Queue>,
    unsent: AtomicUsize,
    /// Bytes written since the queue was made (activity for idle timeouts).
    written_total: AtomicU64,
    /// The writer's task, woken when the buffer goes from empty to non-empty, on close, or
    /// by [`wake`](Self::wake). One task registers (the connection's driver).
    writer: AtomicWaker,
    /// Wakes producers waiting for `unsent` to drop, or for the close.
    room: Notify,
}

impl Default for Outbound {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbound {
    /// An empty, open queue.
    pub(crate) fn new() -> Self {
        Outbound {
            queue: Mutex::new(Queue {
                buf: BytesMut::new(),
                closed: false,
                socket: None,
            }),
            unsent: AtomicUsize::new(0),
            written_total: AtomicU64::new(0),
            writer: AtomicWaker::new(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `bytes`.
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<(), Closed> {
        self.append_with(|buf| {
            buf.extend_from_slice(bytes);
            Ok::<(), ()>(())
        })
        .map_err(|_| Closed)
    }

    /// Lets [`push`](Self::push) write straight to `socket`, the socket the writer drains
    /// into (the writer must write only through it). Dropped on [`abort`](Self::abort).
    pub(crate) fn attach(&self, socket: Arc<TcpStream>) {
        let mut queue = self.lock();
        if !queue.closed {
            queue.socket = Some(socket);
        }
    }

    /// Sends `bytes`: when nothing is queued or being written and a socket is
    /// [attached](Self::attach), they are written to the socket at once (a `try_write` under
    /// the lock, so order is kept and the writer is not woken). What the socket does not take
    /// is queued for the writer, as is everything while the queue is not empty.
    pub(crate) fn push(&self, bytes: &[u8]) -> Result<(), Closed> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(Closed);
        }
        let mut rest = bytes;
        // `unsent` is 0 only when the writer holds no bytes either: it counts taken bytes
        // until they are written.
        if queue.buf.is_empty() && self.unsent() == 0 {
            if let Some(socket) = &queue.socket {
                // A failed write leaves the bytes to the writer, which reports the failure.
                if let Ok(n) = socket.try_write(bytes) {
                    self.written_total.fetch_add(n as u64, Ordering::Relaxed);
                    rest = &bytes[n..];
                }
                if rest.is_empty() {
                    return Ok(());
                }
            }
        }
        let before = queue.buf.len();
        queue.buf.extend_from_slice(rest);
        self.unsent.fetch_add(rest.len(), Ordering::AcqRel);
        drop(queue);
        if before == 0 {
            self.writer.wake();
        }
        Ok(())
    }

    /// Appends `bytes` without waking the writer. `Ok(true)`: the queue was empty, and the
    /// caller must [`flush`](Self::flush) it (soon: until then nothing writes these bytes,
    /// unless other bytes arrive and wake the writer).
    pub(crate) fn append_deferred(&self, bytes: &[u8]) -> Result<bool, Closed> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(Closed);
        }
        let was_empty = queue.buf.is_empty();
        queue.buf.extend_from_slice(bytes);
        self.unsent.fetch_add(bytes.len(), Ordering::AcqRel);
        Ok(was_empty)
    }

    /// Writes what is queued straight to the attached socket when the writer holds nothing
    /// (under the lock, so order is kept); whatever the socket does not take, or all of it
    /// when there is no socket or the writer is busy, is left to the writer, woken for it.
    pub(crate) fn flush(&self) {
        let mut queue = self.lock();
        if queue.buf.is_empty() {
            return;
        }
        let idle_writer = self.unsent() == queue.buf.len();
        let mut n = 0;
        if let (true, Some(socket)) = (idle_writer, &queue.socket) {
            // A failed write leaves the bytes to the writer, which reports the failure.
            n = socket.try_write(&queue.buf).unwrap_or(0);
        }
        if n > 0 {
            bytes::Buf::advance(&mut queue.buf, n);
            self.unsent.fetch_sub(n, Ordering::AcqRel);
            self.written_total.fetch_add(n as u64, Ordering::Relaxed);
        }
        let rest = !queue.buf.is_empty();
        drop(queue);
        if n > 0 {
            self.room.notify_waiters();
        }
        if rest {
            self.writer.wake();
        }
    }

    /// Wakes the writer's task: for bytes appended with
    /// [`append_deferred`](Self::append_deferred) that will not be flushed, or for its driver
    /// to see that the connection was closed.
    pub(crate) fn wake(&self) {
        self.writer.wake();
    }

    /// Lets `write` append to the buffer under the lock (encoding straight into it, with no
    /// intermediate copy). If `write` fails, what it appended is taken back.
    pub(crate) fn append_with<E>(
        &self,
        write: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<(), AppendError<E>> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(AppendError::Closed);
        }
        let before = queue.buf.len();
        if let Err(e) = write(&mut queue.buf) {
            queue.buf.truncate(before);
            return Err(AppendError::Write(e));
        }
        let added = queue.buf.len() - before;
        if added == 0 {
            return Ok(());
        }
        self.unsent.fetch_add(added, Ordering::AcqRel);
        drop(queue);
        if before == 0 {
            self.writer.wake();
        }
        Ok(())
    }

    /// Appends all of `batch` and leaves it empty. When nothing is queued the buffers are
    /// swapped instead of copied, so a driver that gathers a read batch's replies in its own
    /// buffer hands them over with no copy (and gets an empty buffer with capacity back).
    pub(crate) fn append_batch(&self, batch: &mut BytesMut) -> Result<(), Closed> {
        let added = batch.len();
        if added == 0 {
            return Ok(());
        }
        let mut queue = self.lock();
        if queue.closed {
            batch.clear();
            return Err(Closed);
        }
        let was_empty = queue.buf.is_empty();
        if was_empty {
            std::mem::swap(&mut queue.buf, batch);
        } else {
            queue.buf.extend_from_slice(batch);
            batch.clear();
        }
        self.unsent.fetch_add(added, Ordering::AcqRel);
        drop(queue);
        if was_empty {
            self.writer.wake();
        }
        Ok(())
    }

    /// Bytes written since the queue was made; a change means the peer is reading.
    pub(crate) fn written_total(&self) -> u64 {
        self.written_total.load(Ordering::Relaxed)
    }

    /// Bytes appended and not yet written.
    pub(crate) fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }

    /// Whether the queue is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Refuses further appends and drops what is queued and not yet taken by the writer (and
    /// the attached socket).
    pub(crate) fn abort(&self) {
        let (dropped, _socket) = {
            let mut queue = self.lock();
            queue.closed = true;
            let n = queue.buf.len();
            queue.buf = BytesMut::new();
            (n, queue.socket.take())
        };
        self.unsent.fetch_sub(dropped, Ordering::AcqRel);
        self.writer.wake();
        self.room.notify_waiters();
    }

    /// Swaps the queued bytes into `batch` (which must be empty); returns how many there are.
    /// `None` once the queue is closed and nothing is left.
    pub(crate) fn take(&self, batch: &mut BytesMut) -> Option<usize> {
        debug_assert!(batch.is_empty());
        let mut queue = self.lock();
        if queue.buf.is_empty() && queue.closed {
            return None;
        }
        std::mem::swap(&mut queue.buf, batch);
        Some(batch.len())
    }

    /// Records that `n` taken bytes were written and recycles the writer's `batch`.
    pub(crate) fn written(&self, n: usize, batch: &mut BytesMut) {
        batch.clear();
        if batch.capacity() > KEEP_CAPACITY {
            *batch = BytesMut::new();
        }
        if n > 0 {
            self.unsent.fetch_sub(n, Ordering::AcqRel);
            self.written_total.fetch_add(n as u64, Ordering::Relaxed);
            self.room.notify_waiters();
        }
    }

    /// Records that `n` taken bytes will never be written (the writer failed).
    pub(crate) fn discard(&self, n: usize) {
        if n > 0 {
            self.unsent.fetch_sub(n, Ordering::AcqRel);
            self.room.notify_waiters();
        }
    }

    /// Makes `waker` the one woken by the next append to an empty queue, close or
    /// [`wake`](Self::wake). Register before [`take`](Self::take): a frame appended between
    /// the two then wakes it.
    pub(crate) fn register(&self, waker: &Waker) {
        self.writer.register(waker);
    }

    /// Resolves once fewer than `limit` bytes are unsent, or the queue is closed.
    pub(crate) async fn room_below(&self, limit: usize) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.unsent() < limit || self.is_closed() {
                return;
            }
            room.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unsent_bytes_until_written() {
        let out = Outbound::new();
        out.append(b"abc").unwrap();
        out.append(b"de").unwrap();
        assert_eq!(out.unsent(), 5);
        let mut batch = BytesMut::new();
        assert_eq!(out.take(&mut batch), Some(5));
        assert_eq!(&batch[..], b"abcde");
        assert_eq!(out.unsent(), 5, "taken is not written");
        out.written(5, &mut batch);
        assert_eq!(out.unsent(), 0);
        assert_eq!(out.take(&mut batch), Some(0));
    }

    #[test]
    fn a_failed_write_takes_its_bytes_back() {
        let out = Outbound::new();
        out.append(b"keep").unwrap();
        let r = out.append_with(|buf| {
            buf.extend_from_slice(b"partial");
            Err("too big")
        });
        assert!(matches!(r, Err(AppendError::Write("too big"))));
        assert_eq!(out.unsent(), 4);
        let mut batch = BytesMut::new();
        out.take(&mut batch);
        assert_eq!(&batch[..], b"keep");
    }

    #[test]
    fn abort_drops_queued_bytes_and_refuses_appends() {
        let mut batch = BytesMut::new();
        let out = Outbound::new();
        out.append(b"gone").unwrap();
        out.abort();
        assert_eq!(out.unsent(), 0);
        assert_eq!(out.append(b"more"), Err(Closed));
        assert_eq!(out.take(&mut batch), None, "closed and empty");
    }

    #[test]
    fn append_batch_swaps_into_an_empty_queue_and_copies_behind_queued_bytes() {
        let out = Outbound::new();
        let mut local = BytesMut::with_capacity(64);
        local.extend_from_slice(b"first");
        out.append_batch(&mut local).unwrap();
        assert!(local.is_empty());
        local.extend_from_slice(b" second");
        out.append_batch(&mut local).unwrap();
        assert!(local.is_empty());
        assert_eq!(out.unsent(), 12);
        let mut batch = BytesMut::new();
        assert_eq!(out.take(&mut batch), Some(12));
        assert_eq!(&batch[..], b"first second");
        out.written(12, &mut batch);
        assert_eq!(out.written_total(), 12);
        out.abort();
        local.extend_from_slice(b"late");
        assert_eq!(out.append_batch(&mut local), Err(Closed));
        assert!(local.is_empty(), "a refused batch is dropped");
    }

    /// A connected loopback pair: (the side an `Outbound` writes to, the peer).
    async fn socket_pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (peer, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (Arc::new(accepted.unwrap().0), peer.unwrap())
    }

    #[tokio::test]
    async fn a_push_to_an_idle_socket_is_written_at_once() {
        use tokio::io::AsyncReadExt;
        let (socket, mut peer) = socket_pair().await;
        let out = Outbound::new();
        out.attach(socket);
        out.push(b"direct").unwrap();
        assert_eq!(out.unsent(), 0, "nothing was queued");
        assert_eq!(out.written_total(), 6);
        let mut got = [0u8; 6];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"direct");
    }

    #[tokio::test]
    async fn a_push_behind_queued_bytes_is_queued_in_order() {
        use tokio::io::AsyncReadExt;
        let (socket, mut peer) = socket_pair().await;
        let out = Arc::new(Outbound::new());
        out.attach(socket.clone());
        out.append(b"first ").unwrap();
        out.push(b"second").unwrap();
        assert_eq!(out.unsent(), 12, "the push waited behind the queued frame");
        // Taken but not written: still not idle.
        let mut batch = BytesMut::new();
        assert_eq!(out.take(&mut batch), Some(12));
        out.push(b" third").unwrap();
        assert_eq!(out.unsent(), 18);
        let mut writer = crate::net::SharedTcp(socket);
        tokio::io::AsyncWriteExt::write_all(&mut writer, &batch)
            .await
            .unwrap();
        out.written(12, &mut batch);
        let stall = std::time::Duration::from_secs(5);
        let writing = tokio::spawn({
            let out = out.clone();
            async move { crate::net::write_loop(&mut writer, &out, stall).await }
        });
        let mut got = [0u8; 18];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"first second third");
        out.abort();
        writing.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_push_the_socket_cannot_take_is_queued_and_order_is_kept() {
        use tokio::io::AsyncReadExt;
        let (socket, mut peer) = socket_pair().await;
        let out = Arc::new(Outbound::new());
        out.attach(socket.clone());
        // The peer reads nothing yet: push numbered frames until the socket buffers are full
        // and some bytes wait in the queue, then a few more.
        let frame = |i: u32| {
            let mut f = [0u8; 1024];
            f[..4].copy_from_slice(&i.to_be_bytes());
            f
        };
        let mut n = 0u32;
        while out.unsent() == 0 {
            out.push(&frame(n)).unwrap();
            n += 1;
            assert!(n < 1_000_000, "the socket never filled up");
        }
        for _ in 0..10 {
            out.push(&frame(n)).unwrap();
            n += 1;
        }
        let stall = std::time::Duration::from_secs(5);
        let writing = tokio::spawn({
            let out = out.clone();
            async move { crate::net::write_loop(&mut crate::net::SharedTcp(socket), &out, stall).await }
        });
        for i in 0..n {
            let mut got = [0u8; 1024];
            peer.read_exact(&mut got).await.unwrap();
            assert_eq!(got, frame(i), "frame {i} out of order");
        }
        out.abort();
        writing.await.unwrap().unwrap();
        assert_eq!(out.written_total(), u64::from(n) * 1024);
    }

    #[tokio::test]
    async fn a_deferred_append_is_flushed_to_an_idle_socket() {
        use tokio::io::AsyncReadExt;
        let (socket, mut peer) = socket_pair().await;
        let out = Outbound::new();
        out.attach(socket);
        assert_eq!(
            out.append_deferred(b"one "),
            Ok(true),
            "was empty: flush it"
        );
        assert_eq!(out.append_deferred(b"two"), Ok(false));
        out.flush();
        assert_eq!(out.unsent(), 0);
        assert_eq!(out.written_total(), 7);
        let mut got = [0u8; 7];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"one two");
    }

    #[tokio::test]
    async fn a_flush_while_the_writer_holds_bytes_leaves_them_to_it_in_order() {
        use tokio::io::AsyncReadExt;
        let (socket, mut peer) = socket_pair().await;
        let out = Arc::new(Outbound::new());
        out.attach(socket.clone());
        out.append(b"first ").unwrap();
        let mut batch = BytesMut::new();
        assert_eq!(
            out.take(&mut batch),
            Some(6),
            "the writer holds the first frame"
        );
        assert_eq!(out.append_deferred(b"second"), Ok(true));
        out.flush();
        assert_eq!(out.unsent(), 12, "nothing written past the writer's bytes");
        let mut writer = crate::net::SharedTcp(socket);
        tokio::io::AsyncWriteExt::write_all(&mut writer, &batch)
            .await
            .unwrap();
        out.written(6, &mut batch);
        let stall = std::time::Duration::from_secs(5);
        let writing = tokio::spawn({
            let out = out.clone();
            async move { crate::net::write_loop(&mut writer, &out, stall).await }
        });
        let mut got = [0u8; 12];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"first second");
        out.abort();
        writing.await.unwrap().unwrap();
    }

    #[test]
    fn abort_releases_the_attached_socket() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (socket, _peer) = rt.block_on(socket_pair());
        let out = Outbound::new();
        out.attach(socket.clone());
        assert_eq!(Arc::strong_count(&socket), 2);
        out.abort();
        assert_eq!(Arc::strong_count(&socket), 1);
        assert_eq!(out.push(b"late"), Err(Closed));
    }

    #[tokio::test]
    async fn room_below_waits_for_the_writer() {
        let out = std::sync::Arc::new(Outbound::new());
        out.append(&[0; 100]).unwrap();
        let waiter = tokio::spawn({
            let out = out.clone();
            async move { out.room_below(50).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let mut batch = BytesMut::new();
        let n = out.take(&mut batch).unwrap();
        out.written(n, &mut batch);
        waiter.await.unwrap();
    }
}
