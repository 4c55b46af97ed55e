//! The writer half of a full-duplex connection driver.

use super::Outbound;
use bytes::BytesMut;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};

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
/// peer that does not read only ever blocks this future. Each wake-up takes the whole queue
/// and writes it with as few `write` calls as the socket allows. The write side is not shut
/// down here: the driver decides how the connection ends.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &Outbound,
    stall: Duration,
) -> Result<(), WriteError> {
    write_loop_with(writer, out, stall, false).await
}

/// [`write_loop`] that, when woken by a first frame, yields once before taking the queue:
/// the producers that are ready to run (e.g. many callers on one runtime) then add their
/// frames first, and one `write` carries them all.
pub(crate) async fn write_loop_gathering<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &Outbound,
    stall: Duration,
) -> Result<(), WriteError> {
    write_loop_with(writer, out, stall, true).await
}

async fn write_loop_with<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &Outbound,
    stall: Duration,
    gather: bool,
) -> Result<(), WriteError> {
    let mut batch = BytesMut::new();
    loop {
        let Some(n) = out.take(&mut batch) else {
            let _ = writer.flush().await;
            return Ok(());
        };
        if n == 0 {
            out.ready().await;
            if gather {
                tokio::task::yield_now().await;
            }
            continue;
        }
        let result = write_all(writer, &batch, stall).await;
        out.written(n, &mut batch);
        result?;
    }
}

/// Writes `buf` whole; each `write` that waits gets `stall` to make progress.
///
/// The stall timer is armed (on the heap) only while a write waits: most writes complete at
/// once, and a timer kept in this future would be room in every connection's task.
async fn write_all<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &[u8],
    stall: Duration,
) -> Result<(), WriteError> {
    let mut pos = 0;
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        while pos < buf.len() {
            match Pin::new(&mut *writer).poll_write(cx, &buf[pos..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(WriteError::Io(std::io::ErrorKind::WriteZero.into())));
                }
                Poll::Ready(Ok(n)) => {
                    pos += n;
                    timer = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Io(e))),
                Poll::Pending => {
                    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                    return match timer.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(WriteError::Stalled(stall))),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
        Poll::Ready(Ok(()))
    })
    .await
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
