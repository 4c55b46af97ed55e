//! Benchmarks of tars-rs: RPC throughput and latency (typed proxy or a lean pipelined client),
//! a bare length-prefixed echo baseline, push fan-out, memory per connection and codec speed.
//!
//! ```sh
//! # against a running bench_server (or any TARS server with TestApp's Hello, TarsCpp's
//! # QuickStartDemo included)
//! bench rpc "TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 8999" --payload 100 \
//!     --connections 2 --in-flight 100 --seconds 10 [--rate R] [--raw] [--vs-baseline]
//! bench baseline --payload 100 --connections 2 --in-flight 100 --seconds 10
//! bench push --clients 1000 --rate 10 --seconds 10 [--target OBJ@EP] [--burst]
//! bench conns --count 5000 --pid PID [--target 127.0.0.1:8999]
//! bench codec [--seconds 2]
//! ```
//! Every mode prints a table; `--json` prints one JSON object per result line instead (the
//! table then goes to stderr). Every mode stops by itself and talks to loopback only.
//! Without a target, `rpc` starts a bench server in-process (on its own runtime).

use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tars_core::endpoint::ProxyTarget;
use tars_core::prelude::*;
use tars_core::protocol::{encode_frame, ParamsReader, RequestPacket, ResponsePacket};
use tars_core::TarsStruct;
use tars_rs::cli;
use tars_rs::demo::push_callback::{self, PushPrxCallback, PushPrxDispatcher};
use tars_rs::demo::quickstart::{self, HelloProxy, PushStats, HELLO_OBJ, PUSH_OBJ};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;

type Hist = Histogram<u64>;

const USAGE: &str = "usage:
  bench rpc [OBJ@ENDPOINTS] [--payload B] [--connections C] [--in-flight N] [--seconds S] [--rate R] [--raw] [--vs-baseline]
  bench baseline [--payload B] [--connections C] [--in-flight N] [--seconds S] [--rate R]
  bench push [--clients K] [--rate R] [--seconds S] [--target OBJ@EP] [--burst]
  bench conns --count N --pid PID [--target HOST:PORT] [--obj OBJ]
  bench codec [--seconds S]
common: --json (one JSON object per result line), --warmup S (default 0.5)";

/// Flags that take a value (so the positional arguments can be told apart).
const VALUE_FLAGS: &[&str] = &[
    "payload",
    "connections",
    "in-flight",
    "seconds",
    "rate",
    "clients",
    "target",
    "count",
    "pid",
    "warmup",
    "obj",
    "drain",
];

fn positionals() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if let Some(name) = a.strip_prefix("--") {
            if VALUE_FLAGS.contains(&name) {
                args.next();
            }
            continue;
        }
        out.push(a);
    }
    out
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1)
}

fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// Raises this process's open-file limit to at least `want` if it can (as root the hard limit
/// too). Returns the soft limit in force.
fn raise_fd_limit(want: u64) -> u64 {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        return 0;
    };
    if soft >= want {
        return soft;
    }
    if hard < want && Resource::NOFILE.set(want, want).is_ok() {
        return want;
    }
    let target = want.min(hard);
    if Resource::NOFILE.set(target, hard).is_ok() {
        target
    } else {
        soft
    }
}

/// The result of one measurement, printed as a table row or a JSON line.
struct Report {
    mode: String,
    calls: u64,
    errors: u64,
    secs: f64,
    hist: Hist,
    extra: Map<String, Value>,
}

impl Report {
    fn calls_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.calls as f64 / self.secs
        } else {
            0.0
        }
    }

    fn pct(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    fn core(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("mode".into(), json!(self.mode));
        m.insert(
            "calls_per_s".into(),
            json!((self.calls_per_s() * 10.0).round() / 10.0),
        );
        m.insert("p50_us".into(), json!(self.pct(0.5)));
        m.insert("p90_us".into(), json!(self.pct(0.9)));
        m.insert("p99_us".into(), json!(self.pct(0.99)));
        m.insert("p999_us".into(), json!(self.pct(0.999)));
        m.insert(
            "max_us".into(),
            json!(if self.hist.is_empty() {
                0
            } else {
                self.hist.max()
            }),
        );
        m.insert("calls".into(), json!(self.calls));
        m.insert("errors".into(), json!(self.errors));
        m.insert(
            "seconds".into(),
            json!((self.secs * 1000.0).round() / 1000.0),
        );
        m
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut m = self.core();
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

/// Prints a table of `rows` (stdout, or stderr with `--json`) and, with `--json`, each of
/// `results` as one JSON line on stdout.
fn emit(
    title: &str,
    rows: &[Map<String, Value>],
    results: &[Map<String, Value>],
    columns: &[&str],
) {
    let json_out = cli::switch("json");
    let mut table = format!("{title}\n");
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| {
            rows.iter()
                .map(|r| cell(r.get(*c)).len())
                .chain([c.len()])
                .max()
                .unwrap_or(4)
        })
        .collect();
    for (c, w) in columns.iter().zip(&widths) {
        table.push_str(&format!("{c:>w$}  "));
    }
    table.push('\n');
    for r in rows {
        for (c, w) in columns.iter().zip(&widths) {
            table.push_str(&format!("{:>w$}  ", cell(r.get(*c))));
        }
        table.push('\n');
    }
    if json_out {
        eprint!("{table}");
        for r in results {
            println!("{}", Value::Object(r.clone()));
        }
    } else {
        print!("{table}");
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() && f.abs() >= 100.0 => format!("{f:.0}"),
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        Some(Value::Object(_)) => "{..}".into(),
        Some(other) => other.to_string(),
    }
}

/// A multi-threaded runtime for a server run in-process, so it has its own worker threads
/// as a separate process would.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime")
}

/// The measurement window: calls are counted and their latency recorded when they start at
/// or after `measure` and finish by `end`.
#[derive(Clone, Copy)]
struct Window {
    base: Instant,
    measure: Instant,
    end: Instant,
}

impl Window {
    fn new(warmup: Duration, secs: Duration) -> Self {
        let base = Instant::now();
        Window {
            base,
            measure: base + warmup,
            end: base + warmup + secs,
        }
    }

    fn counts(&self, started: Instant, finished: Instant) -> bool {
        started >= self.measure && finished <= self.end
    }

    fn secs(&self) -> f64 {
        (self.end - self.measure).as_secs_f64()
    }
}

/// Load shape shared by `rpc` and `baseline`.
#[derive(Clone, Copy, Debug)]
struct Load {
    payload: usize,
    connections: usize,
    in_flight: usize,
    seconds: f64,
    warmup: f64,
    /// Calls per second over all connections (open loop); `None`: closed loop.
    rate: Option<f64>,
}

impl Load {
    fn from_flags() -> Self {
        let rate: f64 = cli::number_flag("rate", 0.0);
        Load {
            payload: cli::number_flag("payload", 100),
            connections: cli::number_flag::<usize>("connections", 2).max(1),
            in_flight: cli::number_flag::<usize>("in-flight", 100).max(1),
            seconds: cli::number_flag("seconds", 5.0),
            warmup: cli::number_flag("warmup", 0.5),
            rate: (rate > 0.0).then_some(rate),
        }
    }

    fn window(&self) -> Window {
        Window::new(
            Duration::from_secs_f64(self.warmup),
            Duration::from_secs_f64(self.seconds),
        )
    }

    fn describe(&self, m: &mut Map<String, Value>) {
        m.insert("payload".into(), json!(self.payload));
        m.insert("connections".into(), json!(self.connections));
        m.insert("in_flight".into(), json!(self.in_flight));
        m.insert("rate".into(), json!(self.rate));
    }
}

// ------------------------------------------------------------------------------------------
// rpc through the typed proxy
// ------------------------------------------------------------------------------------------

/// Figures of one load task. Latencies are buffered and added to the histogram in batches,
/// so hundreds of tasks do not thrash the cache with their histograms on every call.
struct Partial {
    calls: u64,
    errors: u64,
    hist: Hist,
    pending: Vec<u32>,
}

impl Partial {
    fn new() -> Self {
        Partial {
            calls: 0,
            errors: 0,
            hist: new_hist(),
            pending: Vec::new(),
        }
    }

    /// Counts one successful call that took `d`.
    fn record(&mut self, d: Duration) {
        self.calls += 1;
        self.pending
            .push(d.as_micros().min(u32::MAX as u128) as u32);
        if self.pending.len() >= 16 * 1024 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for &us in &self.pending {
            self.hist.saturating_record(us.max(1) as u64);
        }
        self.pending.clear();
    }
}

fn gather(mode: &str, window: Window, parts: Vec<Partial>) -> Report {
    let mut hist = new_hist();
    let (mut calls, mut errors) = (0, 0);
    for mut p in parts {
        p.flush();
        calls += p.calls;
        errors += p.errors;
        hist.add(&p.hist).expect("same histogram bounds");
    }
    Report {
        mode: mode.into(),
        calls,
        errors,
        secs: window.secs(),
        hist,
        extra: Map::new(),
    }
}

async fn join_all_parts(tasks: Vec<tokio::task::JoinHandle<Partial>>) -> Vec<Partial> {
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(
            t.await
                .unwrap_or_else(|e| fail(format!("load task failed: {e}"))),
        );
    }
    parts
}

async fn rpc_proxy(target: &str, load: Load) -> Report {
    let request = "x".repeat(load.payload);
    let mut proxies = Vec::new();
    for _ in 0..load.connections {
        // One communicator per connection: each has its own connection to the endpoint.
        let comm = Communicator::new();
        let proxy: HelloProxy = comm.string_to_proxy(target).unwrap_or_else(|e| fail(e));
        let (_, echoed) = proxy
            .test_hello(&request)
            .await
            .unwrap_or_else(|e| fail(format!("testHello: {e}")));
        if echoed != request {
            fail("testHello did not echo its input");
        }
        proxies.push((comm, proxy));
    }
    let window = load.window();
    let slots = load.connections * load.in_flight;
    let interval = load.rate.map(|r| Duration::from_secs_f64(slots as f64 / r));
    let mut tasks = Vec::new();
    for (k, (_, proxy)) in proxies.iter().enumerate() {
        for j in 0..load.in_flight {
            let (proxy, request) = (proxy.clone(), request.clone());
            // Open loop: the slots' schedules are spread evenly over one interval.
            let offset = interval.map_or(Duration::ZERO, |i| {
                i.mul_f64((j * load.connections + k) as f64 / slots as f64)
            });
            tasks.push(tokio::spawn(async move {
                let mut part = Partial::new();
                let mut intended = window.base + offset;
                loop {
                    let started = match interval {
                        Some(i) => {
                            tokio::time::sleep_until(intended.into()).await;
                            let s = intended;
                            intended += i;
                            s
                        }
                        None => Instant::now(),
                    };
                    if started >= window.end {
                        break;
                    }
                    let result = proxy.test_hello(&request).await;
                    let done = Instant::now();
                    if window.counts(started, done) {
                        match result {
                            Ok((0, rsp)) if rsp.len() == request.len() => {
                                part.record(done - started);
                            }
                            _ => part.errors += 1,
                        }
                    }
                }
                part
            }));
        }
    }
    let parts = join_all_parts(tasks).await;
    let mut report = gather("rpc", window, parts);
    load.describe(&mut report.extra);
    report.extra.insert("client".into(), json!("proxy"));
    report
}

// ------------------------------------------------------------------------------------------
// The lean pipelined client (`rpc --raw` and `baseline`)
// ------------------------------------------------------------------------------------------

/// A request/response encoding the pipelined client speaks.
trait Wire: Clone + Send + Sync + 'static {
    /// Appends request number `seq` to `out`.
    fn write_request(&self, seq: u32, out: &mut BytesMut);
    /// The length of the first whole response in `buf` and the request number it answers
    /// (`None`: responses come in order); `Ok(None)` while incomplete.
    fn parse(&self, buf: &[u8]) -> Result<Option<(usize, Option<u32>)>, String>;
    /// Checks one whole response in depth (done on the first of each connection).
    fn verify(&self, frame: &[u8]) -> Result<(), String>;
}

/// Ids of raw requests: 0x01000000 + (seq mod 2^24), always encoded as 4-byte ints, so the
/// pre-encoded frame keeps its length.
const RAW_ID_BASE: u32 = 0x0100_0000;
const RAW_ID_MASK: u32 = 0x00FF_FFFF;

/// TARS `testHello` requests, pre-encoded once; only the request id is patched in place.
#[derive(Clone)]
struct TarsWire {
    template: Arc<Vec<u8>>,
    id_offset: usize,
    payload: usize,
}

fn test_hello_request(object: &str, request_id: i32, payload: &str) -> RequestPacket {
    let mut params = tars_core::protocol::ParamsWriter::new(tars_core::protocol::TARS_VERSION);
    params.write(1, "sReq", payload);
    RequestPacket {
        version: tars_core::protocol::TARS_VERSION,
        packet_type: tars_core::protocol::NORMAL_PACKET,
        message_type: 0,
        request_id,
        servant_name: object.into(),
        func_name: "testHello".into(),
        buffer: params.finish(),
        timeout: 60_000,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    }
}

impl TarsWire {
    fn new(object: &str, payload: usize) -> Self {
        let body = "x".repeat(payload);
        let a = encode_frame(&test_hello_request(object, RAW_ID_BASE as i32, &body));
        let b = encode_frame(&test_hello_request(
            object,
            (RAW_ID_BASE | RAW_ID_MASK) as i32,
            &body,
        ));
        assert_eq!(a.len(), b.len(), "request ids of one width");
        // The id is the only difference between the two encodings.
        let first = a
            .iter()
            .zip(b.iter())
            .position(|(x, y)| x != y)
            .expect("ids differ");
        let id_offset = first - 1; // 0x01FFFFFF vs 0x01000000: the first byte (0x01) is shared
        assert_eq!(&a[id_offset..id_offset + 4], &RAW_ID_BASE.to_be_bytes());
        TarsWire {
            template: Arc::new(a.to_vec()),
            id_offset,
            payload,
        }
    }
}

/// Reads an integer field with tag `tag` at `pos` (the head and a payload of 0-8 bytes).
fn read_int_field(buf: &[u8], pos: &mut usize, tag: u8) -> Option<i64> {
    let head = *buf.get(*pos)?;
    *pos += 1;
    let mut t = head >> 4;
    if t == 15 {
        t = *buf.get(*pos)?;
        *pos += 1;
    }
    if t != tag {
        return None;
    }
    let width = match head & 0x0F {
        12 => return Some(0),
        0 => 1,
        1 => 2,
        2 => 4,
        3 => 8,
        _ => return None,
    };
    let bytes = buf.get(*pos..*pos + width)?;
    *pos += width;
    Some(match width {
        1 => bytes[0] as i8 as i64,
        2 => i16::from_be_bytes([bytes[0], bytes[1]]) as i64,
        4 => i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
        _ => i64::from_be_bytes(bytes.try_into().ok()?),
    })
}

fn frame_len(buf: &[u8], includes_header: bool) -> Result<Option<usize>, String> {
    let Some(h) = buf.get(..4) else {
        return Ok(None);
    };
    let raw = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let total = if includes_header { raw } else { raw + 4 };
    if !(5..=100 << 20).contains(&total) {
        return Err(format!("bad frame length {raw}"));
    }
    Ok((buf.len() >= total).then_some(total))
}

impl Wire for TarsWire {
    fn write_request(&self, seq: u32, out: &mut BytesMut) {
        let at = out.len() + self.id_offset;
        out.extend_from_slice(&self.template);
        out[at..at + 4].copy_from_slice(&(RAW_ID_BASE | (seq & RAW_ID_MASK)).to_be_bytes());
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<(usize, Option<u32>)>, String> {
        let Some(total) = frame_len(buf, true)? else {
            return Ok(None);
        };
        let body = &buf[4..total];
        let mut pos = 0;
        let fields = (|| {
            let version = read_int_field(body, &mut pos, 1)?;
            let packet_type = read_int_field(body, &mut pos, 2)?;
            let id = read_int_field(body, &mut pos, 3)?;
            let _message_type = read_int_field(body, &mut pos, 4)?;
            let ret = read_int_field(body, &mut pos, 5)?;
            Some((version, packet_type, id, ret))
        })();
        match fields {
            Some((1, 0, id, 0)) => Ok(Some((total, Some((id as u32).wrapping_sub(RAW_ID_BASE))))),
            Some((_, _, id, ret)) => Err(format!("response to {id} failed: iRet {ret}")),
            None => Err("undecodable response".into()),
        }
    }

    fn verify(&self, frame: &[u8]) -> Result<(), String> {
        let response = ResponsePacket::from_tars_bytes(bytes::Bytes::copy_from_slice(&frame[4..]))
            .map_err(|e| e.to_string())?;
        let mut params =
            ParamsReader::new(response.version, response.buffer).map_err(|e| e.to_string())?;
        let ret: i32 = params.read_ret().map_err(|e| e.to_string())?;
        let rsp: String = params.read(2, "sRsp").map_err(|e| e.to_string())?;
        if ret != 0 || rsp.len() != self.payload || rsp.bytes().any(|b| b != b'x') {
            return Err(format!(
                "testHello answered ret {ret} with {} bytes",
                rsp.len()
            ));
        }
        Ok(())
    }
}

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
        // Write what the socket takes now; the rest waits for writability.
        while !wbuf.is_empty() {
            match stream.try_write(&wbuf) {
                Ok(n) => wbuf.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("write: {e}")),
            }
        }
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
                if rbuf.capacity() - rbuf.len() < 16 * 1024 {
                    rbuf.reserve(64 * 1024);
                }
                match stream.try_read_buf(&mut rbuf) {
                    Ok(0) => return Err("connection closed by the server".into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(format!("read: {e}")),
                }
                let done = Instant::now();
                let mut consumed = 0;
                while let Some((len, id)) = wire.parse(&rbuf[consumed..])? {
                    if !verified {
                        wire.verify(&rbuf[consumed..consumed + len])?;
                        verified = true;
                    }
                    consumed += len;
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
                }
                rbuf.advance(consumed);
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

async fn run_pipelined<W: Wire>(mode: &str, addrs: &[SocketAddr], wire: W, load: Load) -> Report {
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

// ------------------------------------------------------------------------------------------
// The baseline: the fastest bare length-prefixed echo
// ------------------------------------------------------------------------------------------

/// Echoes every complete frame of each read with one write; one buffer per connection.
async fn bare_echo_conn(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut end = 0;
        while filled - end >= 4 {
            let len =
                u32::from_be_bytes([buf[end], buf[end + 1], buf[end + 2], buf[end + 3]]) as usize;
            if filled - end - 4 < len {
                break;
            }
            end += 4 + len;
        }
        if end > 0 {
            if stream.write_all(&buf[..end]).await.is_err() {
                return;
            }
            buf.copy_within(end..filled, 0);
            filled -= end;
        }
    }
}

/// Starts the bare echo server on its own runtime; returns its address.
fn start_bare_echo(rt: &tokio::runtime::Runtime) -> SocketAddr {
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| fail(e));
    let addr = listener.local_addr().expect("bound");
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(bare_echo_conn(stream));
        }
    });
    addr
}

async fn baseline(load: Load, echo: SocketAddr) -> Report {
    run_pipelined("baseline", &[echo], BareWire::new(load.payload), load).await
}

// ------------------------------------------------------------------------------------------
// push fan-out
// ------------------------------------------------------------------------------------------

/// What every push client saw: (sequence number, latency µs, receive time ns after `base`).
#[derive(Default)]
struct PushLog {
    entries: Mutex<Vec<(u64, u32, u64)>>,
}

/// The highest sequence number seen by any client, plus one.
#[derive(Default)]
struct PushSeen {
    next_seq: AtomicU64,
}

struct Recorder {
    log: Arc<PushLog>,
    seen: Arc<PushSeen>,
    base: Instant,
}

impl PushPrxCallback for Recorder {
    fn callback_push_msg(&self, _ret: i32, s_rsp: String) {
        let recv = self.base.elapsed().as_nanos() as u64;
        let now = quickstart::unix_micros();
        let Some((seq, sent)) = quickstart::parse_timed_push(&s_rsp) else {
            return;
        };
        let latency = now.saturating_sub(sent).min(u32::MAX as u64) as u32;
        self.log
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((seq, latency, recv));
        self.seen.next_seq.fetch_max(seq + 1, Ordering::Relaxed);
    }
}

/// An in-process push server (its own runtime) broadcasting `rate` pushes per second.
struct LocalPushServer {
    runtime: tokio::runtime::Runtime,
    pusher: push_callback::PushServer,
    stats: Arc<PushStats>,
    pushing: tokio::task::JoinHandle<()>,
    target: String,
    _server: tars_core::Server,
}

impl LocalPushServer {
    fn start(rate: f64) -> Self {
        let runtime = server_runtime();
        let ep = "tcp -h 127.0.0.1 -p 0 -t 600000";
        let (server, pusher) = runtime
            .block_on(quickstart::serve(ep, ep))
            .unwrap_or_else(|e| fail(e));
        let port = server.endpoint(PUSH_OBJ).expect("bound").port;
        let stats = Arc::new(PushStats::default());
        let pushing = {
            let _in_runtime = runtime.enter();
            quickstart::start_timed_pushing(&pusher, rate, stats.clone())
        };
        LocalPushServer {
            runtime,
            pusher,
            stats,
            pushing,
            target: format!("{PUSH_OBJ}@tcp -h 127.0.0.1 -p {port}"),
            _server: server,
        }
    }
}

struct PushOpts {
    clients: usize,
    rate: f64,
    seconds: f64,
    warmup: f64,
    burst: bool,
}

async fn push_bench(
    opts: PushOpts,
    target: String,
    local: Option<&LocalPushServer>,
) -> Map<String, Value> {
    let base = Instant::now();
    let seen = Arc::new(PushSeen::default());
    let connecting = Arc::new(Semaphore::new(256));
    let mut joins = tokio::task::JoinSet::new();
    for _ in 0..opts.clients {
        let permit = connecting
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        let (target, seen) = (target.clone(), seen.clone());
        joins.spawn(async move {
            let comm = Communicator::new();
            let proxy: push_callback::HelloProxy = comm.string_to_proxy(&target)?;
            let log = Arc::new(PushLog::default());
            proxy
                .servant_proxy()
                .set_push_callback(PushPrxDispatcher::new(Recorder {
                    log: log.clone(),
                    seen,
                    base,
                }));
            proxy.register_push().await?;
            drop(permit);
            TarsResult::Ok((comm, proxy, log))
        });
    }
    let mut clients = Vec::with_capacity(opts.clients);
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok(client)) => clients.push(client),
            Ok(Err(e)) => fail(format!("push client: {e}")),
            Err(e) => fail(format!("push client task: {e}")),
        }
    }
    let registered = base.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(opts.warmup)).await;
    // Pushes must be flowing before the window opens (a slow rate may need a while).
    let patience = Instant::now() + Duration::from_secs_f64(5.0 + 2.0 / opts.rate.max(0.01));
    while seen.next_seq.load(Ordering::Relaxed) == 0 && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every push from `first` on was broadcast after all clients had registered.
    let first = seen.next_seq.load(Ordering::Relaxed);
    let stats0 = local.map(|l| l.stats.snapshot());
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
    let last = seen.next_seq.load(Ordering::Relaxed); // window: [first, last)
    let secs = t0.elapsed().as_secs_f64();
    let stats1 = local.map(|l| l.stats.snapshot());
    if let Some(l) = local {
        l.pushing.abort();
    }
    let rounds = last.saturating_sub(first);
    let expected = rounds * opts.clients as u64;
    let in_window = || -> u64 {
        clients
            .iter()
            .map(|(_, _, log)| {
                let entries = log.entries.lock().unwrap_or_else(|e| e.into_inner());
                entries
                    .iter()
                    .filter(|(seq, _, _)| (first..last).contains(seq))
                    .count() as u64
            })
            .sum()
    };
    // Let the last pushes arrive.
    let drain_until = Instant::now() + Duration::from_secs(5);
    while in_window() < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut hist = new_hist();
    let mut spread: Vec<(u64, u64)> = vec![(u64::MAX, 0); rounds as usize];
    let mut received = 0u64;
    for (_, _, log) in &clients {
        let entries = log.entries.lock().unwrap_or_else(|e| e.into_inner());
        for &(seq, latency, recv) in entries
            .iter()
            .filter(|(seq, _, _)| (first..last).contains(seq))
        {
            received += 1;
            hist.saturating_record((latency as u64).max(1));
            let s = &mut spread[(seq - first) as usize];
            s.0 = s.0.min(recv);
            s.1 = s.1.max(recv);
        }
    }
    let mut spreads = new_hist();
    for (lo, hi) in spread.iter().filter(|(lo, _)| *lo != u64::MAX) {
        spreads.saturating_record(((hi - lo) / 1000).max(1));
    }
    let mut report = Report {
        mode: if opts.burst {
            "push-burst".into()
        } else {
            "push".into()
        },
        calls: received,
        errors: expected.saturating_sub(received),
        secs,
        hist,
        extra: Map::new(),
    };
    let e = &mut report.extra;
    e.insert("clients".into(), json!(opts.clients));
    e.insert("rate".into(), json!(opts.rate));
    e.insert(
        "pushes_per_s".into(),
        json!((received as f64 / secs).round()),
    );
    e.insert("rounds".into(), json!(rounds));
    e.insert("expected".into(), json!(expected));
    e.insert("received".into(), json!(received));
    e.insert("lost".into(), json!(expected as i64 - received as i64));
    e.insert(
        "register_s".into(),
        json!((registered.as_secs_f64() * 1000.0).round() / 1000.0),
    );
    let q = |h: &Hist, q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    e.insert("spread_p50_us".into(), json!(q(&spreads, 0.5)));
    e.insert("spread_p90_us".into(), json!(q(&spreads, 0.9)));
    e.insert(
        "spread_max_us".into(),
        json!(if spreads.is_empty() { 0 } else { spreads.max() }),
    );
    if let (Some(a), Some(b)) = (stats0, stats1) {
        let queued = b.queued - a.queued;
        let took = (b.broadcast_time - a.broadcast_time).as_secs_f64();
        e.insert(
            "broadcast_pushes_per_s".into(),
            json!(if took > 0.0 {
                (queued as f64 / took).round()
            } else {
                0.0
            }),
        );
        e.insert("push_failed".into(), json!(b.failed - a.failed));
    }
    if let (true, Some(l)) = (opts.burst, local) {
        // Back-to-back broadcasts of one frame, as fast as the registry takes them (the
        // clients ignore this frame: it carries no timestamp).
        let frame = push_callback::PushSender::push_msg_frame(0, "bulk");
        let n = (200_000 / opts.clients.max(1)).clamp(1, 1000);
        let began = Instant::now();
        let mut queued = 0;
        for _ in 0..n {
            queued += l.pusher.registry.broadcast(&frame).sent;
        }
        let took = began.elapsed().as_secs_f64();
        e.insert("b2b_broadcasts".into(), json!(n));
        e.insert(
            "b2b_pushes_per_s".into(),
            json!((queued as f64 / took).round()),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(clients);
    report.to_json()
}

// ------------------------------------------------------------------------------------------
// memory per connection
// ------------------------------------------------------------------------------------------

fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn fd_soft_limit(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Waits until the server holds at least `want` descriptors and its RSS stops moving.
async fn settle(pid: u32, want: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds(pid) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut last = proc_status_kib(pid, "VmRSS:").unwrap_or(0);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = proc_status_kib(pid, "VmRSS:").unwrap_or(0);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

async fn conns_bench(count: usize, pid: u32, target: SocketAddr, obj: &str) -> Map<String, Value> {
    let own = raise_fd_limit(count as u64 + 256);
    if own < count as u64 + 32 {
        fail(format!(
            "this process may open only {own} files, fewer than {count} connections need"
        ));
    }
    let server_limit = fd_soft_limit(pid);
    if let Some(limit) = server_limit.filter(|l| *l < count as u64 + 16) {
        eprintln!("bench: the server (pid {pid}) may open only {limit} files: fewer than {count} connections will be held");
    }
    let Some(rss0) = proc_status_kib(pid, "VmRSS:") else {
        fail(format!("no process {pid}"))
    };
    let fds0 = open_fds(pid);
    // Loopback source addresses 127.0.0.1, .2, ... so there are enough ephemeral ports.
    let sources = |i: usize| -> Option<SocketAddr> {
        match target {
            SocketAddr::V4(t) if t.ip().is_loopback() => {
                Some(SocketAddr::from(([127, 0, 0, 1 + (i / 20_000) as u8], 0)))
            }
            _ => None,
        }
    };
    let connecting = Arc::new(Semaphore::new(200));
    let mut joins = tokio::task::JoinSet::new();
    for i in 0..count {
        let permit = connecting
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        let source = sources(i);
        joins.spawn(async move {
            let socket = if target.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }?;
            if let Some(src) = source {
                socket.bind(src)?;
            }
            let stream = socket.connect(target).await?;
            drop(permit);
            std::io::Result::Ok(stream)
        });
    }
    let mut streams = Vec::with_capacity(count);
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok(s)) => streams.push(s),
            Ok(Err(e)) => fail(format!("connect #{}: {e}", streams.len())),
            Err(e) => fail(e),
        }
    }
    let rss_idle = settle(pid, fds0 + count).await;
    let fds_idle = open_fds(pid);

    // One tars_ping on every connection.
    let ping = encode_frame(&RequestPacket {
        version: tars_core::protocol::TARS_VERSION,
        packet_type: tars_core::protocol::NORMAL_PACKET,
        message_type: 0,
        request_id: 1,
        servant_name: obj.into(),
        func_name: tars_core::protocol::TARS_PING.into(),
        buffer: bytes::Bytes::new(),
        timeout: 3000,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    });
    let pinging = Arc::new(Semaphore::new(200));
    let mut joins = tokio::task::JoinSet::new();
    for mut stream in streams {
        let (permit, ping) = (
            pinging.clone().acquire_owned().await.expect("open"),
            ping.clone(),
        );
        joins.spawn(async move {
            stream.write_all(&ping).await?;
            let mut len = [0u8; 4];
            stream.read_exact(&mut len).await?;
            let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
            stream.read_exact(&mut body).await?;
            drop(permit);
            let response = ResponsePacket::from_tars_bytes(body)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            Ok::<_, std::io::Error>((stream, response.ret))
        });
    }
    let mut streams = Vec::with_capacity(count);
    let mut failed = 0u64;
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok((s, 0))) => streams.push(s),
            Ok(Ok((s, ret))) => {
                failed += 1;
                eprintln!("bench: tars_ping answered {ret}");
                streams.push(s);
            }
            Ok(Err(e)) => {
                failed += 1;
                eprintln!("bench: tars_ping failed: {e}");
            }
            Err(e) => fail(e),
        }
    }
    let rss_called = settle(pid, 0).await;
    let per = |rss: u64| ((rss.saturating_sub(rss0)) as f64 * 1024.0 / count as f64).round();
    let mut m = Map::new();
    m.insert("mode".into(), json!("conns"));
    m.insert("connections".into(), json!(count));
    m.insert("server_fds_idle".into(), json!(fds_idle));
    m.insert("rss_before_kib".into(), json!(rss0));
    m.insert("rss_idle_kib".into(), json!(rss_idle));
    m.insert("rss_after_call_kib".into(), json!(rss_called));
    m.insert("idle_bytes_per_conn".into(), json!(per(rss_idle)));
    m.insert("after_call_bytes_per_conn".into(), json!(per(rss_called)));
    m.insert("ping_failures".into(), json!(failed));
    m.insert("server_fd_limit".into(), json!(server_limit));
    drop(streams);
    m
}

// ------------------------------------------------------------------------------------------
// codec
// ------------------------------------------------------------------------------------------

/// A line of an order.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Bench.Item")]
struct Item {
    #[tars(tag = 0, require)]
    id: i64,
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 2)]
    price: f64,
    #[tars(tag = 3)]
    quantity: i32,
    #[tars(tag = 4)]
    tags: Vec<String>,
}

/// The representative struct: a few strings and ints, 100 nested structs and a map.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Bench.Order")]
struct Order {
    #[tars(tag = 0, require)]
    order_id: String,
    #[tars(tag = 1)]
    customer: String,
    #[tars(tag = 2)]
    created_ms: i64,
    #[tars(tag = 3)]
    status: i32,
    #[tars(tag = 4)]
    items: Vec<Item>,
    #[tars(tag = 5)]
    attrs: BTreeMap<String, String>,
    #[tars(tag = 6)]
    note: String,
}

fn sample_order() -> Order {
    Order {
        order_id: "ORD-2024-000123456".into(),
        customer: "customer-42@example.invalid".into(),
        created_ms: 1_717_171_717_171,
        status: 3,
        items: (0..100)
            .map(|i| Item {
                id: 10_000_000 + i,
                name: format!("item number {i}"),
                price: 9.99 + i as f64,
                quantity: (i % 7) as i32 + 1,
                tags: vec!["fresh".into(), format!("aisle-{}", i % 12)],
            })
            .collect(),
        attrs: (0..10)
            .map(|i| (format!("key{i}"), format!("value number {i}")))
            .collect(),
        note: "leave at the door".into(),
    }
}

fn codec_bench(seconds: f64) -> Vec<Map<String, Value>> {
    let order = sample_order();
    let encoded = order.to_tars_bytes();
    assert_eq!(
        Order::from_tars_bytes(encoded.clone()).expect("round trip"),
        order
    );
    let size = encoded.len();
    let time = |f: &mut dyn FnMut()| {
        let began = Instant::now();
        let mut n = 0u64;
        while began.elapsed().as_secs_f64() < seconds {
            for _ in 0..64 {
                f();
            }
            n += 64;
        }
        (n, began.elapsed().as_secs_f64())
    };
    let mut sink = 0usize;
    let (enc_n, enc_s) = time(&mut || sink += std::hint::black_box(&order).to_tars_bytes().len());
    let (dec_n, dec_s) = time(&mut || {
        let decoded =
            Order::from_tars_bytes(std::hint::black_box(&encoded).clone()).expect("decodes");
        sink += decoded.items.len();
    });
    std::hint::black_box(sink);
    [
        ("codec-encode", enc_n, enc_s),
        ("codec-decode", dec_n, dec_s),
    ]
    .iter()
    .map(|&(mode, n, s)| {
        let mut m = Map::new();
        m.insert("mode".into(), json!(mode));
        m.insert("bytes".into(), json!(size));
        m.insert("structs_per_s".into(), json!((n as f64 / s).round()));
        m.insert(
            "mb_per_s".into(),
            json!(((n as f64 * size as f64 / s / 1e6) * 10.0).round() / 10.0),
        );
        m.insert("seconds".into(), json!((s * 1000.0).round() / 1000.0));
        m
    })
    .collect()
}

// ------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------

const RPC_COLUMNS: &[&str] = &[
    "mode",
    "payload",
    "connections",
    "in_flight",
    "rate",
    "calls_per_s",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "errors",
    "ratio",
];

fn socket_addrs(target: &ProxyTarget) -> Vec<SocketAddr> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = target
        .endpoints
        .iter()
        .filter_map(|e| e.socket_addr_string().to_socket_addrs().ok()?.next())
        .collect();
    if addrs.is_empty() {
        fail("the target has no usable endpoint");
    }
    addrs
}

fn rpc_main(rt: &tokio::runtime::Runtime) {
    let load = Load::from_flags();
    let raw = cli::switch("raw");
    let mut local = None;
    let target = match positionals().get(1) {
        Some(t) => t.clone(),
        None => {
            let srv = server_runtime();
            let ep = "tcp -h 127.0.0.1 -p 0 -t 600000";
            let (server, _) = srv
                .block_on(quickstart::serve(ep, ep))
                .unwrap_or_else(|e| fail(e));
            let port = server.endpoint(HELLO_OBJ).expect("bound").port;
            local = Some((srv, server));
            format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port}")
        }
    };
    let parsed: ProxyTarget = target.parse().unwrap_or_else(|e| fail(e));
    let mut ours = if raw {
        let addrs = socket_addrs(&parsed);
        rt.block_on(run_pipelined(
            "rpc-raw",
            &addrs,
            TarsWire::new(&parsed.object, load.payload),
            load,
        ))
    } else {
        rt.block_on(rpc_proxy(&target, load))
    };
    ours.extra.insert(
        "server".into(),
        json!(if local.is_some() {
            "in-process".to_string()
        } else {
            target
        }),
    );
    let mut rows = vec![ours.to_json()];
    let mut result = ours.to_json();
    if cli::switch("vs-baseline") {
        let echo_rt = server_runtime();
        let echo = start_bare_echo(&echo_rt);
        let base = rt.block_on(baseline(load, echo));
        echo_rt.shutdown_background();
        let ratio = if base.calls_per_s() > 0.0 {
            ours.calls_per_s() / base.calls_per_s()
        } else {
            0.0
        };
        let ratio = (ratio * 1000.0).round() / 1000.0;
        let p99_ratio = if base.pct(0.99) > 0 {
            ours.pct(0.99) as f64 / base.pct(0.99) as f64
        } else {
            0.0
        };
        rows[0].insert("ratio".into(), json!(ratio));
        rows.push(base.to_json());
        result.insert("baseline".into(), Value::Object(base.to_json()));
        result.insert("ratio".into(), json!(ratio));
        result.insert(
            "p99_ratio".into(),
            json!((p99_ratio * 1000.0).round() / 1000.0),
        );
    }
    if let Some((srv, _server)) = local {
        srv.shutdown_background();
    }
    emit("rpc: testHello", &rows, &[result], RPC_COLUMNS);
}

fn main() {
    cli::init_logging();
    let Some(mode) = positionals().first().cloned() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match mode.as_str() {
        "rpc" => rpc_main(&rt),
        "baseline" => {
            let load = Load::from_flags();
            let echo_rt = server_runtime();
            let echo = start_bare_echo(&echo_rt);
            let report = rt.block_on(baseline(load, echo));
            echo_rt.shutdown_background();
            let row = report.to_json();
            emit(
                "baseline: bare length-prefixed echo",
                std::slice::from_ref(&row),
                std::slice::from_ref(&row),
                RPC_COLUMNS,
            );
        }
        "push" => {
            let burst = cli::switch("burst");
            let opts = PushOpts {
                clients: cli::number_flag("clients", if burst { 1000 } else { 100 }),
                rate: cli::number_flag("rate", 10.0),
                seconds: cli::number_flag("seconds", 5.0),
                warmup: cli::number_flag("warmup", 0.5),
                burst,
            };
            // Clients and an in-process server: two descriptors per client.
            raise_fd_limit(opts.clients as u64 * 2 + 512);
            let (target, local) = match cli::flag("target") {
                Some(t) => (t, None),
                None => {
                    let l = LocalPushServer::start(opts.rate);
                    (l.target.clone(), Some(l))
                }
            };
            let row = rt.block_on(push_bench(opts, target, local.as_ref()));
            if let Some(l) = local {
                l.runtime.shutdown_background();
            }
            let columns = [
                "mode",
                "clients",
                "rate",
                "pushes_per_s",
                "p50_us",
                "p99_us",
                "p999_us",
                "max_us",
                "lost",
                "spread_p50_us",
                "broadcast_pushes_per_s",
                "b2b_pushes_per_s",
            ];
            emit(
                "push: pushMsg fan-out",
                std::slice::from_ref(&row),
                std::slice::from_ref(&row),
                &columns,
            );
        }
        "conns" => {
            let count: usize = cli::number_flag("count", 1000);
            let Some(pid) = cli::flag("pid").and_then(|p| p.parse::<u32>().ok()) else {
                fail("conns needs --pid PID of the server")
            };
            let target: SocketAddr = cli::flag("target")
                .unwrap_or_else(|| "127.0.0.1:8999".into())
                .parse()
                .unwrap_or_else(|e| fail(format!("--target HOST:PORT: {e}")));
            let obj = cli::flag("obj").unwrap_or_else(|| HELLO_OBJ.into());
            let row = rt.block_on(conns_bench(count, pid, target, &obj));
            let columns = [
                "mode",
                "connections",
                "rss_before_kib",
                "rss_idle_kib",
                "rss_after_call_kib",
                "idle_bytes_per_conn",
                "after_call_bytes_per_conn",
                "ping_failures",
            ];
            emit(
                "conns: server memory per connection",
                std::slice::from_ref(&row),
                std::slice::from_ref(&row),
                &columns,
            );
        }
        "codec" => {
            let rows = codec_bench(cli::number_flag("seconds", 2.0));
            emit(
                "codec: Order (100 items, a map)",
                &rows,
                &rows,
                &["mode", "bytes", "structs_per_s", "mb_per_s"],
            );
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
