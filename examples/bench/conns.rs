//! `conns`: the memory a server spends per connection. Opens `count` idle connections to
//! the server of `--pid`, reads its RSS and descriptors from `/proc`, then sends one
//! `tars_ping` on each (or `--func F`, e.g. `registerPush` on a push servant: then the second
//! figure is the memory per registered push connection) and reads its RSS again.

use crate::args::{fail, ConnsOpts};
use crate::report::emit_one;
use crate::sys::raise_fd_limit;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tars_core::prelude::*;
use tars_core::protocol::{encode_frame, RequestPacket, ResponsePacket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;

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

async fn conns_bench(
    count: usize,
    pid: u32,
    target: SocketAddr,
    obj: &str,
    func: &str,
) -> Map<String, Value> {
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
        func_name: func.into(),
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
    m.insert("func".into(), json!(func));
    m.insert("ping_failures".into(), json!(failed));
    m.insert("server_fd_limit".into(), json!(server_limit));
    drop(streams);
    m
}

/// The `conns` mode.
pub fn main(rt: &tokio::runtime::Runtime) {
    let opts = ConnsOpts::from_flags();
    let row = rt.block_on(conns_bench(
        opts.count,
        opts.pid,
        opts.target,
        &opts.obj,
        &opts.func,
    ));
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
    emit_one("conns: server memory per connection", &row, &columns);
}
