//! The writer half of a full-duplex connection driver.

use super::Outbound;
use bytes::BytesMut;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::time::Sleep;

/// Why [`write_loop`] stopped writing.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// A write made no progress for this long: the peer is not reading.
    Stalled(Duration),
    /// The socket failed (or accepted nothing).
    Io(std::io::Error),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Stalled(d) => write!(
                f,
                "write stalled: the peer read nothing for {} ms",
                d.as_millis()
            ),
            WriteError::Io(e) => write!(f, "write failed: {e}"),
        }
    }
}

/// Writes everything `out` receives until it is closed and drained (`Ok`), or until the
/// socket fails or a write makes no progress for `stall`.
///
/// Run it beside the reader (both polled by the connection's task), never inside it: then a
/// peer that does not read only ever blocks this future. The write side is not shut down
/// here: the driver decides how the connection ends.
#[cfg(test)]
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &Outbound,
    stall: Duration,
) -> Result<(), WriteError> {
    let mut queue = QueueWriter::new(false);
    std::future::poll_fn(|cx| queue.poll_write(cx, writer, out, stall)).await
}

/// [`write_loop`] that, when woken by a first frame, yields once before taking the queue:
/// the producers that are ready to run (e.g. many callers on one runtime) then add their
/// frames first, and one `write` carries them all.
pub(crate) async fn write_loop_gathering<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &Outbound,
    stall: Duration,
) -> Result<(), WriteError> {
    let mut queue = QueueWriter::new(true);
    std::future::poll_fn(|cx| queue.poll_write(cx, writer, out, stall)).await
}

/// The writer half of a driver as a state machine its driver polls: it takes the whole
/// queue at each wake-up and writes it with as few `write` calls as the socket allows.
///
/// It holds no future: the batch in hand, how much of it is written, and a stall timer that
/// is armed (on the heap) only while a write waits, so an idle connection carries a few
/// words for its writer.
pub(crate) struct QueueWriter {
    batch: BytesMut,
    written: usize,
    /// Something was written since the last flush (a TLS stream may hold it back).
    unflushed: bool,
    /// Yield once after a wake-up before taking the queue (see [`write_loop_gathering`]).
    gather: bool,
    /// The queue was found empty: the next poll that sees bytes gathers first.
    waiting: bool,
    timer: Option<Pin<Box<Sleep>>>,
}

impl QueueWriter {
    /// A writer holding nothing; `gather`: see [`write_loop_gathering`].
    pub(crate) fn new(gather: bool) -> Self {
        QueueWriter {
            batch: BytesMut::new(),
            written: 0,
            unflushed: false,
            gather,
            waiting: false,
            timer: None,
        }
    }

    /// Writes what `out` holds into `io`. `Ready(Ok)` once `out` is closed and drained;
    /// `Pending` when the queue is empty (the task's waker is registered with `out`) or the
    /// socket is full (registered with `io`). A write or flush that waits longer than
    /// `stall` without progress is [`WriteError::Stalled`].
    pub(crate) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
        out: &Outbound,
        stall: Duration,
    ) -> Poll<Result<(), WriteError>> {
        match self.poll_queue(cx, io, out, stall) {
            Poll::Ready(Err(e)) => {
                // The batch in hand will not be written: what was is counted, the rest
                // leaves `unsent`.
                let (len, done) = (self.batch.len(), self.written);
                out.written(done, &mut self.batch);
                out.discard(len - done);
                self.written = 0;
                Poll::Ready(Err(e))
            }
            other => other,
        }
    }

    fn poll_queue<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
        out: &Outbound,
        stall: Duration,
    ) -> Poll<Result<(), WriteError>> {
        loop {
            while self.written < self.batch.len() {
                match Pin::new(&mut *io).poll_write(cx, &self.batch[self.written..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(WriteError::Io(
                            std::io::ErrorKind::WriteZero.into(),
                        )));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.written += n;
                        self.timer = None;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Io(e))),
                    Poll::Pending => return self.poll_stall(cx, stall),
                }
            }
            if !self.batch.is_empty() {
                out.written(self.batch.len(), &mut self.batch);
                self.written = 0;
                self.unflushed = true;
            }
            if self.gather && self.waiting && out.unsent() > 0 {
                // Woken by a first frame: let the other producers that are ready run first.
                self.waiting = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            out.register(cx.waker());
            match out.take(&mut self.batch) {
                None => {
                    // Closed and drained.
                    let _ = Pin::new(&mut *io).poll_flush(cx);
                    return Poll::Ready(Ok(()));
                }
                Some(0) => {
                    self.waiting = true;
                    if self.unflushed {
                        match Pin::new(&mut *io).poll_flush(cx) {
                            Poll::Ready(Ok(())) => {
                                self.unflushed = false;
                                self.timer = None;
                            }
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Io(e))),
                            Poll::Pending => return self.poll_stall(cx, stall),
                        }
                    }
                    return Poll::Pending;
                }
                Some(_) => self.waiting = false,
            }
        }
    }

    /// The socket is full: gives it `stall` (from the first wait) to make progress.
    fn poll_stall(
        &mut self,
        cx: &mut Context<'_>,
        stall: Duration,
    ) -> Poll<Result<(), WriteError>> {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(WriteError::Stalled(stall))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn writes_what_is_queued_and_ends_after_abort() {
        let (mut near, mut far) = tokio::io::duplex(1024);
        let out = Arc::new(Outbound::new());
        let writer = tokio::spawn({
            let out = out.clone();
            async move { write_loop(&mut near, &out, Duration::from_secs(5)).await }
        });
        out.append(b"hello ").unwrap();
        out.append(b"world").unwrap();
        let mut got = [0u8; 11];
        far.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello world");
        out.abort();
        writer.await.unwrap().unwrap();
        assert_eq!(out.unsent(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_stalls_the_writer() {
        let (mut near, _far) = tokio::io::duplex(64);
        let out = Outbound::new();
        out.append(&[7; 4096]).unwrap();
        let stall = Duration::from_millis(300);
        match write_loop(&mut near, &out, stall).await {
            Err(WriteError::Stalled(d)) => assert_eq!(d, stall),
            other => panic!("expected a stall, got {other:?}"),
        }
        // What was written is counted; the rest will never be: nothing stays unsent.
        assert_eq!(out.written_total(), 64);
        assert_eq!(out.unsent(), 0);
    }

    #[tokio::test]
    async fn a_closed_peer_is_an_io_error() {
        let (mut near, far) = tokio::io::duplex(64);
        drop(far);
        let out = Outbound::new();
        out.append(b"nobody").unwrap();
        let r = write_loop(&mut near, &out, Duration::from_secs(5)).await;
        assert!(matches!(r, Err(WriteError::Io(_))), "{r:?}");
    }
}
