//! `rpc --raw --task-per-call`: the floor of a client that runs every call as a task of its
//! own, as the typed proxy's callers do. Requests are the raw client's pre-encoded frames;
//! each connection has one driver task (reads, splits responses with [`Wire::parse`],
//! writes what the callers queued) and `in_flight` caller tasks, each with one reusable
//! completion slot: per call one lock to queue the frame, one wake of the driver and one
//! wake of the caller. No map, channel, timer or allocation per call: what is left is the
//! cost of a task per call, which no task-per-call client can avoid.

use crate::args::{fail, Load};
use crate::measure::{gather, join_all_parts, Partial, Window};
use crate::pipeline::{read_what_came, take_responses, write_what_fits, Wire};
use crate::report::Report;
use bytes::BytesMut;
use futures_util::task::AtomicWaker;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Where the caller of request `seq` (slot `seq % in_flight`) waits.
#[derive(Default)]
struct Slot {
    done: AtomicBool,
    waker: AtomicWaker,
}

/// What a connection's callers and its driver share.
struct Shared {
    out: Mutex<BytesMut>,
    queued: Notify,
    slots: Vec<Slot>,
}

async fn driver<W: Wire>(stream: TcpStream, wire: W, shared: Arc<Shared>) -> Result<(), String> {
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let mut wbuf = BytesMut::with_capacity(64 * 1024);
    let n = shared.slots.len() as u32;
    let mut verified = false;
    loop {
        write_what_fits(&stream, &mut wbuf)?;
        tokio::select! {
            biased;
            ready = stream.readable() => {
                ready.map_err(|e| format!("read: {e}"))?;
                match read_what_came(&stream, &mut rbuf)? {
                    Some(0) => return Ok(()),
                    Some(_) => {}
                    None => continue,
                }
                take_responses(&wire, &mut rbuf, &mut verified, |id| {
                    let seq = id.ok_or("responses of this wire carry no id")?;
                    let slot = &shared.slots[(seq % n) as usize];
                    slot.done.store(true, Ordering::Release);
                    slot.waker.wake();
                    Ok(())
                })?;
            }
            ready = stream.writable(), if !wbuf.is_empty() => {
                ready.map_err(|e| format!("write: {e}"))?;
            }
            () = shared.queued.notified(), if wbuf.is_empty() => {
                // Every caller ready to run adds its frame before the batch is taken.
                tokio::task::yield_now().await;
                std::mem::swap(&mut wbuf, &mut *shared.out.lock().unwrap());
            }
        }
    }
}

/// One caller: sends request after request on its slot until the window ends.
async fn caller<W: Wire>(wire: W, shared: Arc<Shared>, index: u32, window: Window) -> Partial {
    let mut part = Partial::new();
    let n = shared.slots.len() as u32;
    let slot = &shared.slots[index as usize];
    let mut round = 0u32;
    loop {
        let started = Instant::now();
        if started >= window.end {
            break;
        }
        // Sequence numbers stay below the raw wire's 2^24 ids and keep `seq % n == index`.
        let seq = (index + n * round) % (n * ((1 << 24) / n));
        round = round.wrapping_add(1);
        wire.write_request(seq, &mut shared.out.lock().unwrap());
        shared.queued.notify_one();
        poll_fn(|cx| {
            slot.waker.register(cx.waker());
            if slot.done.swap(false, Ordering::AcqRel) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let done = Instant::now();
        if window.counts(started, done) {
            part.record(done - started);
        }
    }
    part
}

/// Runs `load` over `connections` connections to `addrs` with a task per in-flight call.
pub async fn run_task_per_call<W: Wire>(
    mode: &str,
    addrs: &[SocketAddr],
    wire: W,
    load: Load,
) -> Report {
    if load.rate.is_some() {
        fail("--task-per-call runs a closed loop only");
    }
    let window = load.window();
    let (mut tasks, mut drivers) = (Vec::new(), Vec::new());
    for i in 0..load.connections {
        let addr = addrs[i % addrs.len()];
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| fail(format!("connect {addr}: {e}")));
        let _ = stream.set_nodelay(true);
        let shared = Arc::new(Shared {
            out: Mutex::new(BytesMut::with_capacity(64 * 1024)),
            queued: Notify::new(),
            slots: (0..load.in_flight).map(|_| Slot::default()).collect(),
        });
        let (w, s) = (wire.clone(), shared.clone());
        drivers.push(tokio::spawn(async move {
            if let Err(e) = driver(stream, w, s).await {
                fail(e);
            }
        }));
        for index in 0..load.in_flight as u32 {
            let (w, s) = (wire.clone(), shared.clone());
            tasks.push(tokio::spawn(caller(w, s, index, window)));
        }
    }
    let parts = join_all_parts(tasks).await;
    drivers.iter().for_each(|d| d.abort());
    let mut report = gather(mode, window, parts);
    load.describe(&mut report.extra);
    report
}
