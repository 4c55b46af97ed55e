//! The baseline: the fastest bare length-prefixed echo, in-process, driven by the pipelined
//! client with bare frames (`baseline`, `rpc --vs-baseline`).

use crate::args::{fail, Load};
use crate::pipeline::{run_pipelined, Wire};
use crate::report::{emit_one, Report, RPC_COLUMNS};
use crate::sys::server_runtime;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// Bare frames: 4-byte big-endian payload length, then the payload; echoed as they are.
#[derive(Clone)]
struct BareWire {
    frame: Arc<Vec<u8>>,
}

impl BareWire {
    fn new(payload: usize) -> Self {
        let mut frame = (payload as u32).to_be_bytes().to_vec();
        frame.resize(4 + payload, b'x');
        BareWire {
            frame: Arc::new(frame),
        }
    }
}

impl Wire for BareWire {
    fn write_request(&self, _seq: u32, out: &mut BytesMut) {
        out.extend_from_slice(&self.frame);
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<(usize, Option<u32>)>, String> {
        let Some(h) = buf.get(..4) else {
            return Ok(None);
        };
        let total = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize + 4;
        Ok((buf.len() >= total).then_some((total, None)))
    }

    fn verify(&self, frame: &[u8]) -> Result<(), String> {
        if frame == &self.frame[..] {
            Ok(())
        } else {
            Err("echo differs from the request".into())
        }
    }
}

/// Echoes the byte stream as it comes: one read and one write per batch into one reused
/// buffer, no framing, no allocation after the first read. Frames come back whole because
/// bytes do, so this is the least any server speaking length-prefixed frames can do.
async fn bare_echo_conn(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let n = match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let mut sent = 0;
        while sent < n {
            match stream.try_write(&buf[sent..n]) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if stream.writable().await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
        // One more pass through the scheduler before waiting for readability: tokio's
        // workers then do not park between a reply and the next request (the tars-rs server
        // driver gets the same from its queue's wake-up). Worth ~30 % at 2 × 1, measured.
        tokio::task::yield_now().await;
    }
}

/// Starts the bare echo server on `rt`, listening on `at`; returns its address.
fn start_bare_echo(rt: &tokio::runtime::Runtime, at: &str) -> SocketAddr {
    let listener = rt
        .block_on(TcpListener::bind(at))
        .unwrap_or_else(|e| fail(format!("{at}: {e}")));
    let addr = listener.local_addr().expect("bound");
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(bare_echo_conn(stream));
        }
    });
    addr
}

/// The `echo` mode: the bare echo in this process (`--listen`, default 127.0.0.1:29999),
/// until killed; prints `listening HOST:PORT`. Driving it with `baseline --target` compares
/// a server in its own process with an echo in its own process.
pub fn serve_echo(rt: &tokio::runtime::Runtime) {
    let at = tars_rs::cli::flag("listen").unwrap_or_else(|| "127.0.0.1:29999".into());
    let addr = start_bare_echo(rt, &at);
    println!("listening {addr}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    rt.block_on(std::future::pending::<()>());
}

async fn baseline(load: Load, echo: SocketAddr) -> Report {
    run_pipelined("baseline", &[echo], BareWire::new(load.payload), load).await
}

/// Measures `load` against a bare echo server started for it (and stopped after).
pub fn measure(rt: &tokio::runtime::Runtime, load: Load) -> Report {
    let echo_rt = server_runtime();
    let echo = start_bare_echo(&echo_rt, "127.0.0.1:0");
    let report = rt.block_on(baseline(load, echo));
    echo_rt.shutdown_background();
    report
}

/// The `baseline` mode; `--target HOST:PORT` drives another bare echo (one running in its
/// own process, say) with the same client instead of the in-process one.
pub fn main(rt: &tokio::runtime::Runtime) {
    let load = Load::from_flags();
    let report = match tars_rs::cli::flag("target") {
        Some(t) => {
            let addr: SocketAddr = t.parse().unwrap_or_else(|e| fail(format!("--target: {e}")));
            let mut r = rt.block_on(baseline(load, addr));
            r.extra.insert("server".into(), serde_json::json!(t));
            r
        }
        None => measure(rt, load),
    };
    emit_one(
        "baseline: bare length-prefixed echo",
        &report.to_json(),
        RPC_COLUMNS,
    );
}
