//! The lean pipelined client of `rpc --raw` and `baseline`: one task per connection, no task
//! or channel per call, speaking any [`Wire`] encoding.

use crate::args::{fail, Load};
use crate::measure::{gather, join_all_parts, Partial, Window};
use crate::report::Report;
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A request/response encoding the pipelined client speaks.
pub trait Wire: Clone + Send + Sync + 'static {
    /// Appends request number `seq` to `out`.
    fn write_request(&self, seq: u32, out: &mut BytesMut);
    /// The length of the first whole response in `buf` and the request number it answers
    /// (`None`: responses come in order); `Ok(None)` while incomplete.
    fn parse(&self, buf: &[u8]) -> Result<Option<(usize, Option<u32>)>, String>;
    /// Checks one whole response in depth (done on the first of each connection).
    fn verify(&self, frame: &[u8]) -> Result<(), String>;
}

/// Writes what the socket takes of `wbuf` now; the rest waits for writability.
pub fn write_what_fits(stream: &TcpStream, wbuf: &mut BytesMut) -> Result<(), String> {
    while !wbuf.is_empty() {
        match stream.try_write(wbuf) {
            Ok(n) => wbuf.advance(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    Ok(())
}

/// Takes every whole response at the front of `rbuf` (checking the first one a connection
/// gets with `wire.verify`), passing each one's id to `each`, then drops them from `rbuf`.
pub fn take_responses<W: Wire>(
    wire: &W,
    rbuf: &mut BytesMut,
    verified: &mut bool,
    mut each: impl FnMut(Option<u32>) -> Result<(), String>,
) -> Result<(), String> {
    let mut consumed = 0;
    while let Some((len, id)) = wire.parse(&rbuf[consumed..])? {
        if !*verified {
            wire.verify(&rbuf[consumed..consumed + len])?;
            *verified = true;
        }
        consumed += len;
        each(id)?;
    }
    rbuf.advance(consumed);
    Ok(())
}

/// Reads what the socket has into `rbuf` (growing it when nearly full): the bytes read (0:
/// the peer closed), or `None` when a readiness was spurious.
pub fn read_what_came(stream: &TcpStream, rbuf: &mut BytesMut) -> Result<Option<usize>, String> {
    if rbuf.capacity() - rbuf.len() < 16 * 1024 {
        rbuf.reserve(64 * 1024);
    }
    match stream.try_read_buf(rbuf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// One pipelined connection: keeps `in_flight` requests outstanding (closed loop) or sends
/// `rate` requests per second with at most `in_flight` outstanding (open loop, latency from
/// each request's intended send time). Writes every request of a batch at once and splits
/// responses with [`Wire::parse`]; no task or channel per call.
async fn pipelined_conn<W: Wire>(
    addr: SocketAddr,
    wire: W,
    in_flight: usize,
    rate: Option<f64>,
    window: Window,
) -> Result<Partial, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let cap = (in_flight * 2).next_power_of_two().min(1 << 24);
    let mask = cap as u32 - 1;
    // Send time of each outstanding request (ns after window.base), by seq & mask.
    let mut sent_at = vec![0u64; cap];
    let mut part = Partial::new();
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let mut wbuf = BytesMut::with_capacity(64 * 1024);
    let (mut next_seq, mut next_fifo, mut outstanding) = (0u32, 0u32, 0usize);
    let mut verified = false;
    let ns = |t: Instant| (t - window.base).as_nanos() as u64;
    let stamp = |t: u64| window.base + Duration::from_nanos(t);
    let drain_until = window.end + Duration::from_secs(5);
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut issued: u64 = 0;

    let issue = |wbuf: &mut BytesMut,
                 sent_at: &mut [u64],
                 next_seq: &mut u32,
                 outstanding: &mut usize,
                 at: u64| {
        wire.write_request(*next_seq, wbuf);
        sent_at[(*next_seq & mask) as usize] = at;
        *next_seq = next_seq.wrapping_add(1);
        *outstanding += 1;
    };
    if rate.is_none() {
        let now = ns(Instant::now());
        for _ in 0..in_flight {
            issue(
                &mut wbuf,
                &mut sent_at,
                &mut next_seq,
                &mut outstanding,
                now,
            );
        }
    }
    loop {
        write_what_fits(&stream, &mut wbuf)?;
        let now = Instant::now();
        if now >= window.end && outstanding == 0 {
            break;
        }
        if now >= drain_until {
            part.errors += outstanding as u64;
            break;
        }
        tokio::select! {
            biased;
            ready = stream.readable() => {
                ready.map_err(|e| format!("read: {e}"))?;
                match read_what_came(&stream, &mut rbuf)? {
                    Some(0) => return Err("connection closed by the server".into()),
                    Some(_) => {}
                    None => continue,
                }
                let done = Instant::now();
                take_responses(&wire, &mut rbuf, &mut verified, |id| {
                    let seq = id.unwrap_or_else(|| {
                        next_fifo = next_fifo.wrapping_add(1);
                        next_fifo.wrapping_sub(1)
                    });
                    let started = stamp(sent_at[(seq & mask) as usize]);
                    outstanding = outstanding.saturating_sub(1);
                    if window.counts(started, done) {
                        part.record(done - started);
                    }
                    if rate.is_none() && done < window.end {
                        issue(&mut wbuf, &mut sent_at, &mut next_seq, &mut outstanding, ns(done));
                    }
                    Ok(())
                })?;
                if let Some(r) = rate {
                    // Requests held back by a full window go out as soon as there is room.
                    let due = ((done.min(window.end) - window.base).as_secs_f64() * r) as u64;
                    while issued < due && outstanding < in_flight {
                        let at = (issued as f64 * 1e9 / r) as u64;
                        issue(&mut wbuf, &mut sent_at, &mut next_seq, &mut outstanding, at.max(1));
                        issued += 1;
                    }
                }
            }
            ready = stream.writable(), if !wbuf.is_empty() => {
                ready.map_err(|e| format!("write: {e}"))?;
            }
            _ = ticker.tick(), if rate.is_some() => {
                let now = Instant::now();
                if now < window.end {
                    let r = rate.unwrap_or(1.0);
                    let due = ((now - window.base).as_secs_f64() * r) as u64;
                    while issued < due && outstanding < in_flight {
                        let at = (issued as f64 * 1e9 / r) as u64;
                        issue(&mut wbuf, &mut sent_at, &mut next_seq, &mut outstanding, at.max(1));
                        issued += 1;
                    }
                }
            }
        }
    }
    Ok(part)
}

/// Runs `load` over `connections` pipelined connections to `addrs` (round robin) and
/// reports it as mode `mode`.
pub async fn run_pipelined<W: Wire>(
    mode: &str,
    addrs: &[SocketAddr],
    wire: W,
    load: Load,
) -> Report {
    let window = load.window();
    let per_conn_rate = load.rate.map(|r| r / load.connections as f64);
    let tasks: Vec<_> = (0..load.connections)
        .map(|i| {
            let (addr, wire) = (addrs[i % addrs.len()], wire.clone());
            tokio::spawn(async move {
                pipelined_conn(addr, wire, load.in_flight, per_conn_rate, window)
                    .await
                    .unwrap_or_else(|e| fail(e))
            })
        })
        .collect();
    let parts = join_all_parts(tasks).await;
    let mut report = gather(mode, window, parts);
    load.describe(&mut report.extra);
    report
}
