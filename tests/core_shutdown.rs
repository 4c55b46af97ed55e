//! Graceful shutdown keeps its promise (issue 11): SIGTERM to the `hello_server` example while
//! 200 calls are queued on its connections. Every caller gets its answer or a retryable code
//! (-9, or a connection error raised at once by `_reconnect_` / the close) before its
//! deadline, never a timeout, and the process exits with status 0.
//!
//! 150 calls come from our typed proxies (three connections) and are known to be read by the
//! server before the signal; 50 come from a raw TARS peer that, like a client that does not
//! know `_reconnect_`, keeps sending on its connection after the notice: those are the
//! requests a draining server must still read and answer.

mod common;

use common::conn::{int_param, raw_request, read_response};
use common::{example_bin, spawn_listening};
use futures_util::future::{maybe_done, MaybeDone};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::task::Poll;
use std::time::Duration;
use tars_core::prelude::*;
use tars_core::protocol::{RECONNECT_DESC, SERVER_OVERLOAD};
use tars_rs::demo::hello::{HelloProxy, HELLO_OBJ};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// How long the calls in flight at the signal take: the drain lasts at least this long.
const SLOW_MS: i32 = 4000;
/// Deadline of the calls in flight at the signal.
const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline of the calls made around the signal: shorter than the drain, so a call left
/// unread until the drain ends times out.
const LATE_TIMEOUT: Duration = Duration::from_millis(2000);
/// Outer bound of every wait.
const LIMIT: Duration = Duration::from_secs(60);

type Call = Pin<Box<dyn Future<Output = TarsResult<(i32, i32)>> + Send>>;
type Slot = Pin<Box<MaybeDone<Call>>>;

/// Whether `result` is an answer or a retryable failure raised at once (not a timeout).
fn acceptable<T>(result: &TarsResult<T>) -> bool {
    match result {
        Ok(_) => true,
        Err(TarsError::Ret { code, .. }) => *code == SERVER_OVERLOAD,
        Err(TarsError::ConnectionClosed(_) | TarsError::Connect { .. }) => true,
        Err(_) => false,
    }
}

/// On one connection: puts 50 `slow` calls in flight, then a `tars_ping`, polled in that
/// order so their frames go out in that order; the ping's answer means the server has read
/// the 50. Reports that on `read`, then returns the 50 results.
async fn fifty_in_flight(
    proxy: HelloProxy,
    read: oneshot::Sender<()>,
) -> Vec<TarsResult<(i32, i32)>> {
    proxy.tars_ping().await.expect("connect");
    let proxy = proxy.with_timeout(IN_FLIGHT_TIMEOUT);
    let mut calls: Vec<Slot> = (0..50)
        .map(|_| {
            let proxy = proxy.clone();
            let call: Call = Box::pin(async move { proxy.slow(SLOW_MS).await });
            Box::pin(maybe_done(call))
        })
        .collect();
    let ping: Call = Box::pin({
        let proxy = proxy.clone();
        async move { proxy.tars_ping().await.map(|()| (0, 0)) }
    });
    let mut ping = Box::pin(maybe_done(ping));
    let mut read = Some(read);
    std::future::poll_fn(|cx| {
        let mut done = true;
        for call in calls.iter_mut() {
            done &= call.as_mut().poll(cx).is_ready();
        }
        // Once its output is taken the ping is not polled again.
        if read.is_some() {
            if ping.as_mut().poll(cx).is_ready() {
                ping.as_mut()
                    .take_output()
                    .expect("ping output")
                    .expect("tars_ping behind the slow calls");
                let _ = read.take().map(|r| r.send(()));
            } else {
                done = false;
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    calls
        .iter_mut()
        .map(|c| c.as_mut().take_output().expect("output"))
        .collect()
}

/// Calls `slow(0)` one after another until a call fails (or 10,000 calls): the calls around
/// the signal.
async fn late_caller(proxy: HelloProxy) -> Vec<TarsResult<(i32, i32)>> {
    let proxy = proxy.with_timeout(LATE_TIMEOUT);
    let mut results = Vec::new();
    for _ in 0..10_000 {
        let result = proxy.slow(0).await;
        let failed = result.is_err();
        results.push(result);
        if failed {
            break;
        }
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_200_calls_are_queued_answers_every_caller() {
    let mut server = Command::new(example_bin("hello_server"));
    server.args(["--endpoint", "tcp -h 127.0.0.1 -p 0 -t 60000"]);
    let mut server = spawn_listening(server);
    let target = format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {}", server.port);

    // 150 calls from three typed proxies, read by the server.
    let mut typed = Vec::new();
    let mut late = Vec::new();
    for _ in 0..3 {
        let proxy: HelloProxy = Communicator::new().string_to_proxy(&target).unwrap();
        let (tx, rx) = oneshot::channel();
        typed.push(tokio::spawn(fifty_in_flight(proxy.clone(), tx)));
        tokio::time::timeout(LIMIT, rx)
            .await
            .expect("the server reads 50 calls")
            .expect("in-flight report");
        late.push(proxy);
    }

    // A raw peer with one slow call in flight (it keeps its connection draining).
    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut frames = raw_request(1, HELLO_OBJ, "slow", int_param("ms", SLOW_MS), 20_000).to_vec();
    frames.extend_from_slice(&raw_request(
        2,
        HELLO_OBJ,
        "tars_ping",
        Default::default(),
        20_000,
    ));
    raw.write_all(&frames).await.unwrap();
    let ping = tokio::time::timeout(LIMIT, read_response(&mut raw))
        .await
        .expect("raw ping answered")
        .expect("raw connection open");
    assert_eq!((ping.request_id, ping.ret), (2, 0));

    // Callers that keep calling across the signal.
    let late: Vec<_> = late
        .into_iter()
        .map(|p| tokio::spawn(late_caller(p)))
        .collect();

    server.signal_term();

    // The raw peer sees `_reconnect_`, and then sends 49 more requests on the connection.
    let mut answers = BTreeMap::new();
    loop {
        let frame = tokio::time::timeout(LIMIT, read_response(&mut raw))
            .await
            .expect("`_reconnect_` within the bound")
            .expect("the connection closed before `_reconnect_`");
        if frame.request_id == 0 && frame.result_desc == RECONNECT_DESC {
            break;
        }
        answers.insert(frame.request_id, frame.ret);
    }
    let mut queued = Vec::new();
    for id in 100..149 {
        queued.extend_from_slice(&raw_request(
            id,
            HELLO_OBJ,
            "slow",
            int_param("ms", 0),
            3000,
        ));
    }
    raw.write_all(&queued).await.unwrap();
    while answers.len() < 50 {
        match tokio::time::timeout(LIMIT, read_response(&mut raw))
            .await
            .expect("the draining server answers or closes within the bound")
        {
            Some(frame) => {
                answers.insert(frame.request_id, frame.ret);
            }
            None => break,
        }
    }
    let unanswered: Vec<i32> = std::iter::once(1)
        .chain(100..149)
        .filter(|id| !answers.contains_key(id))
        .collect();
    assert!(
        unanswered.is_empty(),
        "{} requests on the draining connection got no answer: {unanswered:?}",
        unanswered.len()
    );
    for (id, ret) in &answers {
        assert!(
            *ret == 0 || *ret == SERVER_OVERLOAD,
            "request {id} answered {ret}"
        );
    }

    // Every typed caller: answered, or a retryable code raised at once.
    for (k, task) in typed.into_iter().enumerate() {
        let results = tokio::time::timeout(LIMIT, task)
            .await
            .expect("the in-flight calls end")
            .expect("call task");
        let bad: Vec<_> = results.iter().filter(|r| !acceptable(r)).collect();
        assert!(
            bad.is_empty(),
            "connection {k}: {} calls failed: {bad:?}",
            bad.len()
        );
    }
    for (k, task) in late.into_iter().enumerate() {
        let results = tokio::time::timeout(LIMIT, task)
            .await
            .expect("the late caller ends")
            .expect("late task");
        let last = results.last().expect("at least one call");
        assert!(
            acceptable(last),
            "late caller {k}, call {}: {last:?}",
            results.len()
        );
    }

    let status = tokio::task::block_in_place(|| server.wait_exit(LIMIT))
        .expect("hello_server exits after SIGTERM");
    assert!(status.success(), "hello_server exit status {status}");
}
