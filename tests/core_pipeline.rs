//! Full duplex (issue 11): 64 calls of 1 MiB each way in flight at once on ONE connection of
//! one typed proxy, against our server and against the Tars.js server. A connection driver
//! that stops reading while a write is blocked deadlocks here (both sides write into full
//! socket buffers); the outer bound turns that into a failure instead of a hang.

mod common;

use common::conn::{target, RecordCloses};
use common::{node, spawn_listening, within};
use futures_util::future::join_all;
use std::time::Duration;
use tars_core::prelude::*;
use tars_core::server::ServerConfig;
use tars_rs::demo::hello::{HelloImpl, HelloProxy, HelloServant, HELLO_OBJ};

const CALLS: usize = 64;
const SIZE: usize = 1 << 20;
/// Generous: 64 MiB each way takes well under a second once nothing blocks.
const CALL_TIMEOUT: Duration = Duration::from_secs(40);

/// The request of call `i` (distinct per call, so a mixed-up response is seen).
fn payload(i: usize) -> Vec<u8> {
    (0..SIZE).map(|k| (k as u8) ^ (i as u8)).collect()
}

/// Puts 64 `echo_bytes` calls of 1 MiB in flight at once on `proxy`, checks every answer,
/// then pings on the same proxy.
async fn pipelined_megabytes(proxy: HelloProxy) {
    let proxy = proxy.with_timeout(CALL_TIMEOUT);
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let proxy = proxy.clone();
            tokio::spawn(async move {
                let result = proxy.echo_bytes(&payload(i)).await;
                (i, result.map(|(ret, back)| (ret, back == payload(i))))
            })
        })
        .collect();
    let results = within("64 pipelined calls of 1 MiB", join_all(calls)).await;
    let failed: Vec<String> = results
        .into_iter()
        .map(|r| r.expect("call task"))
        .filter(|(_, r)| !matches!(r, Ok((0, true))))
        .map(|(i, r)| format!("call {i}: {r:?}"))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {CALLS} calls failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    within("tars_ping after the load", proxy.tars_ping())
        .await
        .expect("tars_ping on the same proxy after the load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_calls_pipelined_on_one_connection_to_our_server() {
    let (servant, mut closes) = RecordCloses::new(HelloServant::new(HelloImpl::default()));
    let server = Server::builder()
        .config(ServerConfig::default())
        .servant(HELLO_OBJ, "tcp -h 127.0.0.1 -p 0 -t 0", servant)
        .start()
        .await
        .expect("server starts");
    let port = server.endpoint(HELLO_OBJ).unwrap().port;
    let proxy: HelloProxy = Communicator::new()
        .string_to_proxy(&target(HELLO_OBJ, port))
        .unwrap();
    pipelined_megabytes(proxy.clone()).await;
    assert!(proxy.servant_proxy().is_connected(0));
    // Shutdown closes every connection: there was exactly one.
    within("shutdown", server.shutdown()).await;
    let mut uids = Vec::new();
    while let Ok((uid, _)) = closes.try_recv() {
        uids.push(uid);
    }
    assert_eq!(uids.len(), 1, "every call shares one connection: {uids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_calls_pipelined_on_one_connection_to_tarsjs() {
    let server = spawn_listening(node("hello_server.js", &[]));
    let proxy: HelloProxy = Communicator::new()
        .string_to_proxy(&target(HELLO_OBJ, server.port))
        .unwrap();
    pipelined_megabytes(proxy).await;
}
