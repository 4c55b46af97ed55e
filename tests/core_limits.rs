//! Limits that fail one call or one connection, never the others (issue 11): an outgoing
//! request or response larger than the frame limit fails that call only; a peer that never
//! reads is closed after the write-stall timeout; a peer that floods requests without reading
//! does not stop the server from serving other connections.

mod common;

use common::conn::{
    drain, int_param, proxy_with, raw_request, recv_within, CoreHandle, CoreImpl, CoreProbeProxy,
    CoreProbeServant, RecordCloses, CORE_OBJ,
};
use std::time::Duration;
use tars_core::client::ClientConfig;
use tars_core::prelude::*;
use tars_core::protocol::SERVER_ENCODE_ERR;
use tars_core::server::{CloseReason, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Outer bound of every wait.
const EVENT: Duration = Duration::from_secs(30);
/// Frame limit of both sides in the frame tests.
const LIMIT: usize = 64 * 1024;
/// Calls parked on the connection while the oversized one fails.
const PARKED: usize = 8;

type Closes = mpsc::UnboundedReceiver<common::conn::Closed>;

async fn core_server(config: ServerConfig) -> (Server, u16, CoreHandle, Closes) {
    let (core, handle) = CoreImpl::new();
    let (servant, closes) = RecordCloses::new(CoreProbeServant::new(core));
    let server = Server::builder()
        .config(config)
        .servant(CORE_OBJ, "tcp -h 127.0.0.1 -p 0 -t 0", servant)
        .start()
        .await
        .expect("server starts");
    let port = server.endpoint(CORE_OBJ).unwrap().port;
    (server, port, handle, closes)
}

fn limited_client(port: u16) -> CoreProbeProxy {
    proxy_with(
        CORE_OBJ,
        port,
        ClientConfig {
            max_frame_len: LIMIT,
            ..ClientConfig::default()
        },
    )
}

/// Parks `PARKED` calls on `proxy`'s connection and waits until the servant runs them all.
async fn park_calls(
    proxy: &CoreProbeProxy,
    handle: &mut CoreHandle,
) -> Vec<tokio::task::JoinHandle<TarsResult<i32>>> {
    let parked: Vec<_> = (0..PARKED)
        .map(|_| {
            let proxy = proxy.with_timeout(EVENT);
            tokio::spawn(async move { proxy.park().await })
        })
        .collect();
    for _ in 0..PARKED {
        recv_within(&mut handle.parked, "a parked call runs", EVENT).await;
    }
    parked
}

/// Releases the parked calls: each must succeed.
async fn parked_calls_succeed(
    handle: &CoreHandle,
    parked: Vec<tokio::task::JoinHandle<TarsResult<i32>>>,
) {
    handle.release();
    for call in parked {
        let result = tokio::time::timeout(EVENT, call)
            .await
            .expect("parked call ends")
            .expect("call task");
        assert_eq!(
            result.expect("a call sharing the connection with the oversized one"),
            0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_fails_that_call_only() {
    let (server, port, mut handle, _closes) = core_server(ServerConfig {
        max_frame_len: LIMIT,
        ..ServerConfig::default()
    })
    .await;
    let proxy = limited_client(port);
    let uid = proxy.uid().await.unwrap();
    let parked = park_calls(&proxy, &mut handle).await;

    let result = tokio::time::timeout(EVENT, proxy.echo(&vec![7u8; 2 * LIMIT]))
        .await
        .expect("the oversized call ends");
    match result {
        Err(TarsError::FrameTooLarge { size, limit }) => {
            assert_eq!(limit, LIMIT);
            assert!(size > LIMIT, "size {size}");
        }
        other => panic!("want FrameTooLarge, got {other:?}"),
    }
    parked_calls_succeed(&handle, parked).await;
    // The connection lives.
    assert_eq!(
        proxy.uid().await.unwrap(),
        uid,
        "the connection was replaced"
    );
    let small = vec![1u8; LIMIT / 2];
    assert_eq!(proxy.echo(&small).await.unwrap(), (0, small));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_response_is_answered_minus_2_and_the_connection_lives() {
    let (server, port, mut handle, _closes) = core_server(ServerConfig {
        max_frame_len: LIMIT,
        ..ServerConfig::default()
    })
    .await;
    let proxy = limited_client(port);
    let uid = proxy.uid().await.unwrap();
    let parked = park_calls(&proxy, &mut handle).await;

    for p in [proxy.clone(), proxy.tup()] {
        let result = tokio::time::timeout(EVENT, p.big(4 * LIMIT as i32))
            .await
            .expect("the oversized response's call ends");
        match result {
            Err(TarsError::Ret { code, desc }) => {
                assert_eq!(code, SERVER_ENCODE_ERR, "{desc}");
                assert!(!desc.is_empty(), "-2 without a description");
            }
            other => panic!("want iRet -2, got {other:?}"),
        }
    }
    parked_calls_succeed(&handle, parked).await;
    assert_eq!(
        proxy.uid().await.unwrap(),
        uid,
        "the connection was replaced"
    );
    assert_eq!(proxy.big(1000).await.unwrap(), (0, vec![0xA5; 1000]));
    server.shutdown().await;
}

/// `count` `big(size)` requests, framed for a raw peer.
fn big_requests(count: i32, size: i32) -> Vec<u8> {
    let mut frames = Vec::new();
    for id in 1..=count {
        frames.extend_from_slice(&raw_request(
            id,
            CORE_OBJ,
            "big",
            int_param("n", size),
            60_000,
        ));
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_never_reads_is_closed_after_the_write_stall_timeout() {
    let (server, port, _handle, mut closes) = core_server(ServerConfig {
        write_stall_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let good: CoreProbeProxy = proxy_with(CORE_OBJ, port, ClientConfig::default());
    let good_uid = good.uid().await.unwrap() as u64;

    // 64 MiB of responses to a peer that reads none of them.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stalled.write_all(&big_requests(64, 1 << 20)).await.unwrap();
    let (uid, reason) = loop {
        assert_eq!(
            good.uid().await.unwrap() as u64,
            good_uid,
            "served meanwhile"
        );
        let closed = recv_within(&mut closes, "the stalled peer is closed", EVENT).await;
        if closed.0 != good_uid {
            break closed;
        }
    };
    assert_ne!(uid, good_uid);
    assert_eq!(reason, Some(CloseReason::WriteStalled));
    // The other client is still served on its connection.
    assert_eq!(good.uid().await.unwrap() as u64, good_uid);
    assert!(drain(&mut closes).is_empty());
    drop(stalled);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_peer_that_never_reads_does_not_stop_other_connections() {
    let (server, port, _handle, _closes) = core_server(ServerConfig::default()).await;
    let good: CoreProbeProxy = proxy_with(CORE_OBJ, port, ClientConfig::default());
    let good_uid = good.uid().await.unwrap();

    // Floods requests (256 KiB responses each, 1,024 of them) and never reads.
    let mut flooder = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let frames = big_requests(1024, 256 * 1024);
    let flood = tokio::spawn(async move {
        let _ = flooder.write_all(&frames).await;
        flooder
    });
    let payload = vec![3u8; 64 * 1024];
    for i in 0..50 {
        let result = tokio::time::timeout(EVENT, good.echo(&payload))
            .await
            .unwrap_or_else(|_| panic!("call {i} of the other client hung during the flood"));
        assert_eq!(result.unwrap(), (0, payload.clone()), "call {i}");
        assert_eq!(good.uid().await.unwrap(), good_uid);
    }
    flood.abort();
    server.shutdown().await;
}
