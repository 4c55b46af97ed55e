//! `floorserver`: the least a PushCallbackDemo server can do per push, to measure the
//! 1,000-client spread's floor with the very client `push --demo` is. No runtime, no queues:
//! an accept thread answers each connection's first request (`registerPush`) with `ret 0`
//! and keeps the socket; every `--interval-ms`, `--threads` plain threads write one
//! pre-encoded `pushMsg(0, "push message")` frame on their share of the sockets with
//! blocking `write`s. Whatever else a client sends is never read.

use crate::args::fail;
use crate::sendfloor::write_each;
use crate::sys::raise_fd_limit;
use bytes::BytesMut;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tars_core::codec::TarsStruct;
use tars_core::protocol::{encode_response_into, RequestPacket};
use tars_rs::cli;
use tars_rs::demo::push_callback::{PushSender, PUSH_MESSAGE};

/// Largest first request accepted (a `registerPush` is under 100 bytes).
const MAX_REQUEST: usize = 64 * 1024;

/// Reads one length-prefixed request from `s` and writes its `ret 0` response.
fn answer_first_request(s: &mut TcpStream) -> std::io::Result<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if !(4..=MAX_REQUEST).contains(&len) {
        return Err(std::io::Error::other(format!("bad frame length {len}")));
    }
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body)?;
    let request = RequestPacket::from_tars_bytes(body).map_err(std::io::Error::other)?;
    // `int registerPush()`: the return value 0 at tag 0.
    let ret = tars_core::codec::to_bytes(0, &0i32);
    let mut out = BytesMut::new();
    let head = (request.version, request.request_id, request.message_type);
    encode_response_into(head, 0, &ret, "", &BTreeMap::new(), &mut out);
    s.write_all(&out)
}

/// Accepts connections for ever, keeping those whose first request was answered.
fn accept_loop(listener: TcpListener, registered: Arc<Mutex<Vec<TcpStream>>>) {
    for s in listener.incoming() {
        let Ok(mut s) = s else { continue };
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        match answer_first_request(&mut s) {
            Ok(()) => registered.lock().unwrap_or_else(|e| e.into_inner()).push(s),
            Err(e) => eprintln!("floorserver: dropped a connection: {e}"),
        }
    }
}

/// Runs the mode: `--listen HOST:PORT` (default 127.0.0.1:29317), `--threads T` (2),
/// `--interval-ms MS` (1000). Prints `listening tcp -h H -p PORT` once bound; runs until
/// killed.
pub fn main() {
    let listen = cli::flag("listen").unwrap_or_else(|| "127.0.0.1:29317".into());
    let threads: usize = cli::number_flag::<usize>("threads", 2).max(1);
    let interval = Duration::from_millis(cli::number_flag::<u64>("interval-ms", 1000).max(1));
    raise_fd_limit(20_000);
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| fail(format!("{listen}: {e}")));
    let addr = listener.local_addr().unwrap_or_else(|e| fail(e));
    println!("listening tcp -h {} -p {}", addr.ip(), addr.port());
    let registered = Arc::new(Mutex::new(Vec::new()));
    let accepting = registered.clone();
    std::thread::spawn(move || accept_loop(listener, accepting));
    let frame = PushSender::push_msg_frame(0, PUSH_MESSAGE);
    let mut next = Instant::now() + interval;
    loop {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += interval;
        let socks = registered.lock().unwrap_or_else(|e| e.into_inner());
        // A socket whose write fails (its client left) is tried again next round.
        write_each(&socks, threads, &frame);
    }
}
