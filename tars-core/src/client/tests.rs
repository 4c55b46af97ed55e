//! Client behaviour against a scripted TARS server on loopback: each request is answered by a
//! test-provided function with any frames (responses, pushes, nothing).

use super::*;
use crate::protocol::{
    encode_frame, frame_body, LengthPrefix, RequestPacket, ResponsePacket, TARS_PING, TARS_VERSION,
};
use crate::{Endpoint, TarsError, TarsStruct};
use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

type Answer = dyn Fn(&RequestPacket) -> Vec<Bytes> + Send + Sync;

/// What the scripted server saw.
#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    /// Connections that reached EOF (the client closed them).
    closed: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

impl Seen {
    fn count(&self, func: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|f| *f == func)
            .count()
    }
}

/// A server answering every request with `answer(request)`; `read: false` accepts and never
/// reads.
async fn server(
    read: bool,
    answer: impl Fn(&RequestPacket) -> Vec<Bytes> + Send + Sync + 'static,
) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let answer: Arc<Answer> = Arc::new(answer);
    tokio::spawn({
        let seen = seen.clone();
        async move {
            let mut parked = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.accepted.fetch_add(1, Ordering::SeqCst);
                if !read {
                    parked.push(stream);
                    continue;
                }
                let (seen, answer) = (seen.clone(), answer.clone());
                tokio::spawn(async move {
                    let framing = LengthPrefix::tars(64 << 20);
                    let mut buf = BytesMut::new();
                    loop {
                        match stream.read_buf(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                        while let Some(frame) = framing.split_frame(&mut buf).unwrap() {
                            let request =
                                RequestPacket::from_tars_bytes(frame_body(frame)).unwrap();
                            seen.requests
                                .lock()
                                .unwrap()
                                .push(request.func_name.clone());
                            for out in answer(&request) {
                                if stream.write_all(&out).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    seen.closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        }
    });
    (port, seen)
}

fn reply(request: &RequestPacket) -> Vec<Bytes> {
    vec![encode_frame(&ResponsePacket {
        version: TARS_VERSION,
        request_id: request.request_id,
        buffer: request.buffer.clone(),
        ..ResponsePacket::default()
    })]
}

fn push_frame(body: &'static [u8]) -> Bytes {
    encode_frame(&ResponsePacket {
        version: TARS_VERSION,
        request_id: 0,
        buffer: Bytes::from_static(body),
        ..ResponsePacket::default()
    })
}

fn target(port: u16) -> String {
    format!("Test.Obj@tcp -h 127.0.0.1 -p {port}")
}

async fn call(proxy: &ServantProxy, func: &str) -> TarsResult<ResponsePacket> {
    let response = proxy.call(func, Bytes::new(), TARS_VERSION, None).await?;
    Ok(response.expect("two-way call"))
}

#[tokio::test]
async fn a_panicking_push_callback_drops_that_push_not_the_connection() {
    let (port, seen) = server(true, |r| {
        let mut out = vec![push_frame(b"push")];
        out.extend(reply(r));
        out
    })
    .await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let pushes = Arc::new(AtomicUsize::new(0));
    proxy.set_push_callback({
        let pushes = pushes.clone();
        move |_: &Endpoint, _: ResponsePacket| {
            if pushes.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("callback bug");
            }
        }
    });
    within("first call", call(&proxy, "a")).await.unwrap();
    within("second call", call(&proxy, "b")).await.unwrap();
    assert_eq!(
        pushes.load(Ordering::SeqCst),
        2,
        "the push after the panic arrived"
    );
    assert_eq!(
        seen.accepted.load(Ordering::SeqCst),
        1,
        "one connection throughout"
    );
    assert_eq!(comm.stats().callback_panics, 1);
}

/// The TARS decoder, panicking on its first call while `armed`.
struct PanickyDecoder {
    armed: AtomicBool,
    inner: TarsResponseDecoder,
}

impl ResponseDecoder for PanickyDecoder {
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<ResponsePacket>, String> {
        if self.armed.swap(false, Ordering::SeqCst) {
            panic!("decoder bug");
        }
        self.inner.decode(buf)
    }
}

#[tokio::test]
async fn a_panicking_decoder_fails_its_calls_at_once_and_the_next_call_reconnects() {
    let (port, seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm
        .servant_proxy(&target(port))
        .unwrap()
        .with_timeout(LIMIT * 2);
    proxy.set_response_decoder(PanickyDecoder {
        armed: AtomicBool::new(true),
        inner: TarsResponseDecoder::new(1 << 20),
    });
    // Well before its (long) deadline: the close fails it.
    let first = within("the call on the broken connection", call(&proxy, "a")).await;
    assert!(
        matches!(first, Err(TarsError::ConnectionClosed(_))),
        "{first:?}"
    );
    within("the next call", call(&proxy, "b")).await.unwrap();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 2, "reconnected");
    assert_eq!(comm.stats().decoder_panics, 1);
}

struct PanickyEncoder;

impl RequestEncoder for PanickyEncoder {
    fn encode(&self, request: &RequestPacket) -> TarsResult<Bytes> {
        if request.func_name == "boom" {
            panic!("encoder bug");
        }
        Ok(encode_frame(request))
    }
}

#[tokio::test]
async fn a_panicking_encoder_fails_that_call_only() {
    let (port, seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    proxy.set_request_encoder(PanickyEncoder);
    within("a call", call(&proxy, "a")).await.unwrap();
    let boom = within("the panicking call", call(&proxy, "boom")).await;
    assert!(matches!(boom, Err(TarsError::Invalid(_))), "{boom:?}");
    within("a later call", call(&proxy, "b")).await.unwrap();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.requests.lock().unwrap(),
        ["a", "b"],
        "nothing of `boom` was sent"
    );
    assert_eq!(comm.stats().encoder_panics, 1);
}

#[tokio::test]
async fn an_oversized_request_fails_that_call_only() {
    let (port, seen) = server(true, reply).await;
    let comm = Communicator::with_config(ClientConfig {
        max_frame_len: 64 * 1024,
        ..ClientConfig::default()
    });
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    within("a call", call(&proxy, "a")).await.unwrap();
    let big = Bytes::from(vec![7u8; 100 * 1024]);
    let result = within("the big call", proxy.call("big", big, TARS_VERSION, None)).await;
    match result {
        Err(TarsError::FrameTooLarge { size, limit }) => {
            assert_eq!(limit, 64 * 1024);
            assert!(size > 100 * 1024, "{size}");
        }
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    let fits = Bytes::from(vec![7u8; 60 * 1024]);
    let echoed = within(
        "a call that fits",
        proxy.call("fits", fits.clone(), TARS_VERSION, None),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(echoed.buffer, fits);
    assert_eq!(
        seen.accepted.load(Ordering::SeqCst),
        1,
        "the connection lived"
    );
    assert_eq!(*seen.requests.lock().unwrap(), ["a", "fits"]);
    assert_eq!(
        TarsError::FrameTooLarge { size: 2, limit: 1 }.code(),
        crate::protocol::SERVER_ENCODE_ERR
    );
}

/// Blocks on the first decode until released: the connection's task is stuck.
///
/// It blocks through `block_in_place`, which moves the worker's other work to a new thread.
/// A worker that simply blocked could be the one holding tokio's timer and I/O driver, and
/// then no timer in the runtime would fire (the test's own watchdog included): that is
/// tokio's rule for blocking code, not the client's deadline under test.
struct StuckDecoder {
    release: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    inner: TarsResponseDecoder,
}

impl ResponseDecoder for StuckDecoder {
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<ResponsePacket>, String> {
        let release = self.release.lock().unwrap().take();
        if let Some(release) = release {
            tokio::task::block_in_place(|| {
                let _ = release.recv();
            });
        }
        self.inner.decode(buf)
    }
}

/// A proxy to `port` (300 ms timeout) whose connection's task gets stuck in its first
/// decode until the returned sender sends.
fn stuck_proxy(comm: &Communicator, port: u16) -> (ServantProxy, std::sync::mpsc::Sender<()>) {
    let proxy = comm
        .servant_proxy(&target(port))
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let (release, released) = std::sync::mpsc::channel();
    proxy.set_response_decoder(StuckDecoder {
        release: Mutex::new(Some(released)),
        inner: TarsResponseDecoder::new(1 << 20),
    });
    (proxy, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_keeps_its_deadline_while_the_connection_task_is_stuck() {
    let (port, _seen) = server(true, reply).await;
    let comm = Communicator::new();
    let (proxy, release) = stuck_proxy(&comm, port);
    let result = within("the call on a stuck connection", call(&proxy, "a")).await;
    assert!(matches!(result, Err(TarsError::Timeout(300))), "{result:?}");
    assert_eq!(
        proxy.pending_calls(),
        0,
        "the timed-out call left nothing behind"
    );
    release.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_keeps_its_deadline_when_a_stuck_connection_is_closed() {
    let (port, _seen) = server(true, reply).await;
    let comm = Communicator::new();
    let (proxy, release) = stuck_proxy(&comm, port);
    let call = {
        let proxy = proxy.clone();
        tokio::spawn(async move { call(&proxy, "a").await })
    };
    // Closed while its task is stuck: the task cannot clean up, the sweep still runs.
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.disconnect(0);
    let result = within("the call on a closed stuck connection", call)
        .await
        .unwrap();
    assert!(matches!(result, Err(TarsError::Timeout(300))), "{result:?}");
    release.send(()).unwrap();
}

#[tokio::test]
async fn a_timed_out_call_is_forgotten_and_the_connection_stays() {
    let (port, seen) = server(true, |r| {
        if r.func_name == "never" {
            Vec::new()
        } else {
            reply(r)
        }
    })
    .await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let short = proxy.with_timeout(Duration::from_millis(50));
    let result = within("the unanswered call", call(&short, "never")).await;
    assert!(matches!(result, Err(TarsError::Timeout(50))), "{result:?}");
    assert_eq!(proxy.pending_calls(), 0);
    within("a later call", call(&proxy, "a")).await.unwrap();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
}

/// A call polled first in one task and finished in another (a new waker) still gets its
/// response: only a first poll with the waker it registered with skips the pending table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_moved_to_another_task_after_its_first_poll_gets_its_response() {
    let (port, _seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    // Connected: the next call registers and sends within its first poll.
    within("the first call", call(&proxy, "a")).await.unwrap();
    let mut moved = Box::pin({
        let proxy = proxy.clone();
        async move { call(&proxy, "b").await }
    });
    let first = std::future::poll_fn(|cx| Poll::Ready(moved.as_mut().poll(cx))).await;
    assert!(first.is_pending(), "registered and sent from this task");
    let finished = within("the moved call", tokio::spawn(moved)).await;
    finished.expect("the task").expect("the response");
    assert_eq!(proxy.pending_calls(), 0);
}

#[tokio::test]
async fn dropping_the_communicator_and_its_proxies_closes_the_socket() {
    let (port, seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let other = proxy.with_timeout(Duration::from_secs(1));
    within("a call", call(&proxy, "a")).await.unwrap();
    drop(comm);
    drop(proxy);
    within("a call after the communicator went", call(&other, "b"))
        .await
        .unwrap();
    assert_eq!(
        seen.closed.load(Ordering::SeqCst),
        0,
        "a proxy still holds it"
    );
    drop(other);
    eventually("the server saw the close", || {
        seen.closed.load(Ordering::SeqCst) == 1
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_every_connection_and_later_calls_fail() {
    let (port, seen) = server(true, reply).await;
    let (port2, seen2) = server(true, reply).await;
    let comm = Communicator::new();
    let a = comm.servant_proxy(&target(port)).unwrap();
    let b = comm.servant_proxy(&target(port2)).unwrap();
    within("a", call(&a, "a")).await.unwrap();
    within("b", call(&b, "b")).await.unwrap();
    comm.shutdown();
    assert!(comm.is_shut_down());
    eventually("both servers saw the close", || {
        seen.closed.load(Ordering::SeqCst) == 1 && seen2.closed.load(Ordering::SeqCst) == 1
    })
    .await;
    let later = within("a call after shutdown", call(&a, "c")).await;
    assert!(
        matches!(later, Err(TarsError::ConnectionClosed(_))),
        "{later:?}"
    );
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1, "no reconnect");
}

#[tokio::test]
async fn a_server_that_never_reads_is_closed_after_the_write_stall_timeout() {
    let (port, _seen) = server(false, reply).await;
    let comm = Communicator::with_config(ClientConfig {
        write_stall_timeout: Duration::from_millis(200),
        max_frame_len: 16 << 20,
        invoke_timeout: LIMIT * 2,
        ..ClientConfig::default()
    });
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let waiting = tokio::spawn({
        let proxy = proxy.clone();
        async move { call(&proxy, "a").await }
    });
    eventually("the call is in flight", || proxy.pending_calls() == 1).await;
    let oneway = proxy.oneway();
    let chunk = Bytes::from(vec![0u8; 8 << 20]);
    let mut failed = None;
    for _ in 0..64 {
        if let Err(e) = within(
            "a one-way send",
            oneway.call("fill", chunk.clone(), 1, None),
        )
        .await
        {
            failed = Some(e);
            break;
        }
    }
    match failed.expect("the sends stopped") {
        TarsError::ConnectionClosed(why) => assert!(why.contains("stalled"), "{why}"),
        other => panic!("expected a stalled close, got {other:?}"),
    }
    let first = within("the waiting call", waiting).await.unwrap();
    match first {
        Err(TarsError::ConnectionClosed(why)) => assert!(why.contains("stalled"), "{why}"),
        other => panic!("expected a stalled close, got {other:?}"),
    }
}

#[test]
fn keepalive_stays_below_the_endpoint_idle_timeout() {
    let options = SubscribeOptions::default();
    let mut ep = Endpoint::tcp("127.0.0.1", 1);
    assert_eq!(
        options.keepalive_for(&ep),
        Some(Duration::from_millis(1000))
    );
    ep.timeout_ms = 60_000;
    assert_eq!(options.keepalive_for(&ep), Some(Duration::from_secs(10)));
    ep.timeout_ms = 0;
    assert_eq!(options.keepalive_for(&ep), Some(Duration::from_secs(10)));
    let off = SubscribeOptions {
        keepalive: None,
        ..SubscribeOptions::default()
    };
    assert_eq!(off.keepalive_for(&ep), None);
}

#[tokio::test]
async fn a_subscription_pings_below_the_endpoint_timeout_on_the_connection_it_registered_on() {
    let (port, seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm
        .servant_proxy(&format!("Test.Obj@tcp -h 127.0.0.1 -p {port} -t 300"))
        .unwrap();
    let subscription = proxy.subscribe(SubscribeOptions::default(), |bound| async move {
        call(&bound, "register").await.map(|_| ())
    });
    within("ready", subscription.ready()).await.unwrap();
    assert!(
        matches!(subscription.state(), SubscriptionState::Registered { ref endpoint } if endpoint.port == port),
        "{:?}",
        subscription.state()
    );
    // With the 10 s default these would take half a minute; the -t 300 makes them 100 ms
    // apart.
    eventually("three keep-alive pings", || seen.count(TARS_PING) >= 3).await;
    assert_eq!(seen.count("register"), 1);
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
    drop(subscription);
    drop(proxy);
    drop(comm);
    eventually("the subscription's connection closed", || {
        seen.closed.load(Ordering::SeqCst) == 1
    })
    .await;
}

#[tokio::test]
async fn a_refused_registration_shows_its_return_code_and_is_retried() {
    let (port, seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let options = SubscribeOptions {
        initial_backoff: Duration::from_millis(1),
        ..SubscribeOptions::default()
    };
    let subscription = proxy.subscribe(options, {
        let attempts = attempts.clone();
        move |bound| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            async move {
                call(&bound, "register").await?;
                Ok(if n < 2 { 7 } else { 0 })
            }
        }
    });
    let mut states = subscription.watch();
    within(
        "a refusal",
        states.wait_for(|s| matches!(s, SubscriptionState::Refused { ret: 7, .. })),
    )
    .await
    .unwrap();
    within("ready after the refusals", subscription.ready())
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(seen.count("register"), 3);
}

#[tokio::test]
async fn ready_fails_when_the_subscription_stops_first() {
    // Nothing listens on this port once the listener is dropped.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let subscription = proxy.subscribe(SubscribeOptions::default(), |bound| async move {
        call(&bound, "register").await.map(|_| ())
    });
    let mut states = subscription.watch();
    within(
        "a failure",
        states.wait_for(|s| matches!(s, SubscriptionState::Failed { .. })),
    )
    .await
    .unwrap();
    comm.shutdown();
    let ready = within("ready", subscription.ready()).await;
    assert!(
        matches!(ready, Err(TarsError::ConnectionClosed(_))),
        "{ready:?}"
    );
    assert!(matches!(subscription.state(), SubscriptionState::Cancelled));
}

#[tokio::test]
async fn a_panicking_register_function_is_counted_and_retried() {
    let (port, _seen) = server(true, reply).await;
    let comm = Communicator::new();
    let proxy = comm.servant_proxy(&target(port)).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let options = SubscribeOptions {
        initial_backoff: Duration::from_millis(1),
        ..SubscribeOptions::default()
    };
    let subscription = proxy.subscribe(options, {
        let attempts = attempts.clone();
        move |bound| {
            let first = attempts.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    panic!("register bug");
                }
                call(&bound, "register").await.map(|_| ())
            }
        }
    });
    within("ready", subscription.ready()).await.unwrap();
    assert_eq!(comm.stats().callback_panics, 1);
}

#[tokio::test]
async fn a_call_behind_a_hanging_connect_keeps_its_deadline() {
    // A listener whose accept queue is full and never drained: the next connect hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), connect).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    let comm = Communicator::with_config(ClientConfig {
        connect_timeout: LIMIT * 2,
        ..ClientConfig::default()
    });
    let proxy = comm.servant_proxy(&target(addr.port())).unwrap();
    // This one connects (and holds the endpoint's connecting lock) for its whole timeout.
    let slow = tokio::spawn({
        let proxy = proxy.with_timeout(LIMIT * 2);
        async move { call(&proxy, "slow").await }
    });
    tokio::task::yield_now().await;
    let short = proxy.with_timeout(Duration::from_millis(100));
    let result = within("the call behind the connect", call(&short, "a")).await;
    assert!(matches!(result, Err(TarsError::Timeout(100))), "{result:?}");
    // An explicit connect waits behind it no longer than its timeout either.
    let connected = within("the connect behind the connect", short.connect(0)).await;
    assert!(
        matches!(connected, Err(TarsError::Timeout(100))),
        "{connected:?}"
    );
    assert!(!proxy.is_connected(0), "the connect was still hanging");
    assert!(!slow.is_finished());
    slow.abort();
    drop(listener);
}

/// Every call's future is as large as its largest wait: connecting (TLS and auth) once made
/// it 5 KiB; that and the back-pressure wait are boxed, and this keeps them so.
#[test]
fn a_call_future_stays_small() {
    let comm = Communicator::new();
    let proxy = comm.servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    let invoke = proxy.invoke("f", proxy.params_writer());
    let size = std::mem::size_of_val(&invoke);
    assert!(
        size <= 1024,
        "ServantProxy::invoke's future is {size} bytes"
    );
}
