//! Push callback end to end: the frame bytes, fan-out to 1,000 clients, registry cleanup over
//! 10,000 connections, the slow-consumer policy, and subscriptions that survive a server
//! restart, a graceful shutdown and several server instances.

mod common;

use common::{eventually, within};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tars_core::client::{SubscribeOptions, SubscriptionState};
use tars_core::prelude::*;
use tars_core::protocol::{encode_frame, RequestPacket, ResponsePacket};
use tars_core::server::{CloseReason, ServerConfig};
use tars_core::TarsStruct;
use tars_rs::demo::push_callback::{
    Hello, HelloProxy, HelloServant, PushPrxCallback, PushPrxDispatcher, PushSender, PushServer,
    PUSH_MESSAGE, PUSH_OBJ,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tars_push]
trait Sample {
    async fn test_push(&self, msg: &mut String) -> TarsResult<i32>;
}

#[test]
fn push_frame_matches_reference_bytes() {
    // tars-protocol.md §6.2: testPush(out string msg) with ret 0 and msg "hi".
    let mut want = vec![
        0x00, 0x00, 0x00, 0x2B, 0x10, 0x01, 0x2C, 0x3C, 0x4C, 0x5C, 0x6D, 0x00, 0x00, 0x05, 0x0C,
    ];
    want.extend([0x16, 0x02, b'h', b'i', 0x78, 0x00, 0x01, 0x06, 0x09]);
    want.extend(b"TARS_FUNC");
    want.extend([0x16, 0x08]);
    want.extend(b"testPush");
    assert_eq!(SampleSender::test_push_frame(0, "hi").as_ref(), &want[..]);
    // The demo's pushMsg frame decodes as TarsCpp's client reads it: id 0, iRet 0, TARS_FUNC,
    // and ret + sRsp in sBuffer.
    let frame = PushSender::push_msg_frame(7, PUSH_MESSAGE);
    let push = ResponsePacket::from_tars_bytes(frame.slice(4..)).unwrap();
    assert_eq!((push.version, push.request_id, push.ret), (1, 0, 0));
    assert_eq!(
        push.status.get("TARS_FUNC").map(String::as_str),
        Some("pushMsg")
    );
    let mut params = tars_core::TarsReader::new(push.buffer);
    assert_eq!(params.read::<i32>(0).unwrap(), 7);
    assert_eq!(params.read::<String>(1).unwrap(), PUSH_MESSAGE);
}

/// Counts pushes and connection events.
#[derive(Default)]
struct Counter {
    pushes: AtomicUsize,
    connects: AtomicUsize,
    closes: AtomicUsize,
    last: Mutex<String>,
}

struct CountingCallback(Arc<Counter>);

impl PushPrxCallback for CountingCallback {
    fn callback_push_msg(&self, ret: i32, s_rsp: String) {
        assert_eq!(ret, 0);
        *self.0.last.lock().unwrap() = s_rsp;
        self.0.pushes.fetch_add(1, Ordering::SeqCst);
    }
    fn on_connect(&self, _: &Endpoint) {
        self.0.connects.fetch_add(1, Ordering::SeqCst);
    }
    fn on_close(&self, _: &Endpoint) {
        self.0.closes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Each closed connection's uid and close reason.
type CloseLog = Arc<Mutex<Vec<(u64, Option<CloseReason>)>>>;

/// A push servant that also records every close and its reason.
#[derive(Clone, Default)]
struct RecordingServer {
    inner: PushServer,
    closes: CloseLog,
}

impl Hello for RecordingServer {
    async fn register_push(&self, current: &Current) -> TarsResult<i32> {
        self.inner.register_push(current).await
    }
    fn do_close(&self, current: &Current) {
        self.closes
            .lock()
            .unwrap()
            .push((current.uid(), current.close_reason()));
    }
}

async fn start(servant: RecordingServer, endpoint: &str, config: ServerConfig) -> Server {
    Server::builder()
        .config(config)
        .servant(PUSH_OBJ, endpoint, HelloServant::new(servant))
        .start()
        .await
        .expect("server starts")
}

fn target(port: u16) -> String {
    format!("{PUSH_OBJ}@tcp -h 127.0.0.1 -p {port}")
}

/// A client with its own communicator (so its own connection) and a counting callback.
async fn registered_client(port: u16) -> (HelloProxy, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let proxy: HelloProxy = Communicator::new().string_to_proxy(&target(port)).unwrap();
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(CountingCallback(counter.clone())));
    assert_eq!(proxy.register_push().await.unwrap(), 0);
    (proxy, counter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_clients_receive_every_push() {
    let servant = RecordingServer::default();
    let server = start(
        servant.clone(),
        "tcp -h 127.0.0.1 -p 0",
        ServerConfig::default(),
    )
    .await;
    let port = server.endpoint(PUSH_OBJ).unwrap().port;
    let mut clients = Vec::new();
    for chunk in 0..10 {
        let batch = (0..100).map(|_| registered_client(port));
        clients.extend(within(&format!("registering batch {chunk}"), join_all(batch)).await);
    }
    assert_eq!(servant.inner.registry.len(), 1000);
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let frame = PushSender::push_msg_frame(0, &format!("round {round}"));
        let report = servant.inner.registry.broadcast(&frame);
        assert_eq!((report.sent, report.failed), (1000, 0));
    }
    eventually("every client got every push", || {
        clients
            .iter()
            .all(|(_, c)| c.pushes.load(Ordering::SeqCst) == ROUNDS)
    })
    .await;
    for (_, c) in &clients {
        assert_eq!(
            *c.last.lock().unwrap(),
            format!("round {}", ROUNDS - 1),
            "pushes arrive in order"
        );
    }
    server.shutdown().await;
}

/// The frame of a `registerPush` request with request id 1.
fn register_frame() -> Vec<u8> {
    encode_frame(&RequestPacket {
        version: 1,
        request_id: 1,
        servant_name: PUSH_OBJ.into(),
        func_name: "registerPush".into(),
        timeout: 3000,
        context: BTreeMap::new(),
        ..RequestPacket::default()
    })
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_forgets_closed_connections() {
    let servant = RecordingServer::default();
    let server = start(
        servant.clone(),
        "tcp -h 127.0.0.1 -p 0",
        ServerConfig::default(),
    )
    .await;
    let addr = format!("127.0.0.1:{}", server.endpoint(PUSH_OBJ).unwrap().port);
    let frame = Arc::new(register_frame());
    const CYCLES: usize = 10_000;
    const PARALLEL: usize = 25;
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (addr, frame) = (addr.clone(), frame.clone());
            tokio::spawn(async move {
                for _ in 0..CYCLES / PARALLEL {
                    let mut s = TcpStream::connect(&addr).await.unwrap();
                    s.write_all(&frame).await.unwrap();
                    // Wait for the response so the registration happened, then hang up.
                    let mut len = [0u8; 4];
                    s.read_exact(&mut len).await.unwrap();
                    let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
                    s.read_exact(&mut body).await.unwrap();
                }
            })
        })
        .collect();
    within("10,000 connect/register/close cycles", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    eventually("every closed connection left the registry", || {
        servant.inner.registry.is_empty() && servant.closes.lock().unwrap().len() == CYCLES
    })
    .await;
    let closes = servant.closes.lock().unwrap().clone();
    let mut uids: Vec<u64> = closes.iter().map(|(uid, _)| *uid).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), CYCLES, "do_close ran once per connection");
    assert!(closes
        .iter()
        .all(|(_, r)| *r == Some(CloseReason::PeerClosed)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_closed_without_delaying_others() {
    let servant = RecordingServer::default();
    let config = ServerConfig {
        outbound_queue_bytes: 2 * 1024 * 1024,
        ..ServerConfig::default()
    };
    let server = start(servant.clone(), "tcp -h 127.0.0.1 -p 0", config).await;
    let port = server.endpoint(PUSH_OBJ).unwrap().port;

    // A client that registers and then never reads again.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stalled.write_all(&register_frame()).await.unwrap();
    let (_good_proxy, good) = registered_client(port).await;
    eventually("both registered", || servant.inner.registry.len() == 2).await;

    // 256 KiB pushes fill the stalled client's socket buffers, then its queue. Each push
    // waits until the good client has read the previous one, so only the stalled one lags.
    let big = "x".repeat(256 * 1024);
    const PUSHES: usize = 200;
    for i in 0..PUSHES {
        servant
            .inner
            .registry
            .broadcast(&PushSender::push_msg_frame(0, &big));
        eventually("the good client keeps up", || {
            good.pushes.load(Ordering::SeqCst) == i + 1
        })
        .await;
    }
    eventually("the well-behaved client got every push", || {
        good.pushes.load(Ordering::SeqCst) == PUSHES
    })
    .await;
    eventually("the stalled client was closed as a slow consumer", || {
        servant
            .closes
            .lock()
            .unwrap()
            .iter()
            .any(|(_, r)| *r == Some(CloseReason::SlowConsumer))
    })
    .await;
    assert_eq!(
        servant.inner.registry.len(),
        1,
        "only the good client is left: {:?}",
        servant.closes.lock().unwrap()
    );
    drop(stalled);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_resumes_after_server_restart() {
    let first = RecordingServer::default();
    let server = start(
        first.clone(),
        "tcp -h 127.0.0.1 -p 0",
        ServerConfig::default(),
    )
    .await;
    let port = server.endpoint(PUSH_OBJ).unwrap().port;

    let counter = Arc::new(Counter::default());
    let proxy: HelloProxy = Communicator::new().string_to_proxy(&target(port)).unwrap();
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(CountingCallback(counter.clone())));
    let options = SubscribeOptions {
        keepalive: Some(Duration::from_millis(200)),
        ..SubscribeOptions::default()
    };
    let _subscription = proxy
        .servant_proxy()
        .subscribe(options, |pinned| async move {
            HelloProxy::from_servant_proxy(pinned).register_push().await
        });
    let pusher = first.inner.start_pushing(Duration::from_millis(20));
    eventually("pushes from the first server", || {
        counter.pushes.load(Ordering::SeqCst) >= 3
    })
    .await;

    // Graceful shutdown sends `_reconnect_`; the client notices at once.
    pusher.abort();
    server.shutdown().await;
    eventually("the client saw the close", || {
        counter.closes.load(Ordering::SeqCst) >= 1
    })
    .await;
    let before = counter.pushes.load(Ordering::SeqCst);

    // A new server on the same port: the subscription registers again by itself.
    let second = RecordingServer::default();
    let server = start(
        second.clone(),
        &format!("tcp -h 127.0.0.1 -p {port}"),
        ServerConfig::default(),
    )
    .await;
    let pusher = second.inner.start_pushing(Duration::from_millis(20));
    eventually("pushes resume from the second server", || {
        counter.pushes.load(Ordering::SeqCst) >= before + 3
    })
    .await;
    assert!(counter.connects.load(Ordering::SeqCst) >= 2);
    pusher.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_on_all_endpoints_receives_every_instance() {
    let (a, b) = (RecordingServer::default(), RecordingServer::default());
    let server_a = start(a.clone(), "tcp -h 127.0.0.1 -p 0", ServerConfig::default()).await;
    let server_b = start(b.clone(), "tcp -h 127.0.0.1 -p 0", ServerConfig::default()).await;
    let (pa, pb) = (
        server_a.endpoint(PUSH_OBJ).unwrap().port,
        server_b.endpoint(PUSH_OBJ).unwrap().port,
    );
    let counter = Arc::new(Counter::default());
    let target = format!("{PUSH_OBJ}@tcp -h 127.0.0.1 -p {pa}:tcp -h 127.0.0.1 -p {pb}");
    let proxy: HelloProxy = Communicator::new().string_to_proxy(&target).unwrap();
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(CountingCallback(counter.clone())));
    let options = SubscribeOptions {
        all_endpoints: true,
        ..SubscribeOptions::default()
    };
    let _subscription = proxy
        .servant_proxy()
        .subscribe(options, |pinned| async move {
            HelloProxy::from_servant_proxy(pinned).register_push().await
        });
    eventually("registered on both instances", || {
        a.inner.registry.len() == 1 && b.inner.registry.len() == 1
    })
    .await;
    a.inner
        .registry
        .broadcast(&PushSender::push_msg_frame(0, "from a"));
    b.inner
        .registry
        .broadcast(&PushSender::push_msg_frame(0, "from b"));
    eventually("both pushes arrived", || {
        counter.pushes.load(Ordering::SeqCst) == 2
    })
    .await;
    server_a.shutdown().await;
    server_b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_push_function_is_dropped_without_disconnecting() {
    let servant = RecordingServer::default();
    let server = start(
        servant.clone(),
        "tcp -h 127.0.0.1 -p 0",
        ServerConfig::default(),
    )
    .await;
    let (proxy, counter) = registered_client(server.endpoint(PUSH_OBJ).unwrap().port).await;
    servant
        .inner
        .registry
        .broadcast(&SampleSender::test_push_frame(0, "not for this client"));
    servant
        .inner
        .registry
        .broadcast(&PushSender::push_msg_frame(0, PUSH_MESSAGE));
    eventually("the known push still arrives", || {
        counter.pushes.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(*counter.last.lock().unwrap(), PUSH_MESSAGE);
    assert_eq!(
        counter.closes.load(Ordering::SeqCst),
        0,
        "the connection stayed up"
    );
    assert_eq!(proxy.register_push().await.unwrap(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_reports_its_registration_and_dropping_everything_unregisters() {
    // `-t 0`: only the client's close can take it out of the registry.
    let servant = RecordingServer::default();
    let server = start(
        servant.clone(),
        "tcp -h 127.0.0.1 -p 0 -t 0",
        ServerConfig::default(),
    )
    .await;
    let port = server.endpoint(PUSH_OBJ).unwrap().port;
    let comm = Communicator::new();
    let proxy: HelloProxy = comm.string_to_proxy(&target(port)).unwrap();
    let counter = Arc::new(Counter::default());
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(CountingCallback(counter.clone())));
    let subscription = proxy
        .servant_proxy()
        .subscribe(SubscribeOptions::default(), |pinned| async move {
            HelloProxy::from_servant_proxy(pinned).register_push().await
        });
    within("the first registration", subscription.ready())
        .await
        .unwrap();
    assert!(
        matches!(subscription.state(), SubscriptionState::Registered { ref endpoint } if endpoint.port == port),
        "{:?}",
        subscription.state()
    );
    assert_eq!(servant.inner.registry.len(), 1);
    servant
        .inner
        .registry
        .broadcast(&PushSender::push_msg_frame(0, "hi"));
    eventually("the push arrived", || {
        counter.pushes.load(Ordering::SeqCst) == 1
    })
    .await;

    drop(subscription);
    drop(proxy);
    drop(comm);
    eventually("the server forgot the client", || {
        servant.inner.registry.is_empty()
    })
    .await;
    assert_eq!(servant.closes.lock().unwrap().len(), 1);
    server.shutdown().await;
}

/// Reads one length-prefixed frame.
async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut body).await.unwrap();
    body
}

/// The number after `seq=` in a frame.
fn seq_of(frame: &[u8]) -> usize {
    let at = frame
        .windows(4)
        .position(|w| w == b"seq=")
        .expect("a numbered push")
        + 4;
    std::str::from_utf8(&frame[at..at + 8])
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_a_client_that_pauses_reading_arrive_in_order() {
    let servant = RecordingServer::default();
    let config = ServerConfig {
        outbound_queue_bytes: 64 * 1024 * 1024,
        ..ServerConfig::default()
    };
    let server = start(servant.clone(), "tcp -h 127.0.0.1 -p 0", config).await;
    let port = server.endpoint(PUSH_OBJ).unwrap().port;
    let mut paused = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    paused.write_all(&register_frame()).await.unwrap();
    read_frame(&mut paused).await;
    let (_good_proxy, good) = registered_client(port).await;
    // While the paused client reads nothing, its socket buffers fill (12.8 MB is more than
    // loopback buffers hold): the first pushes are written at once, the later ones queue;
    // small and large pushes alternate.
    const PUSHES: usize = 400;
    let pad = "x".repeat(64 * 1024);
    for i in 0..PUSHES {
        let msg = if i % 2 == 0 {
            format!("seq={i:08}")
        } else {
            format!("seq={i:08} {pad}")
        };
        let report = servant
            .inner
            .registry
            .broadcast(&PushSender::push_msg_frame(0, &msg));
        assert_eq!((report.sent, report.failed), (2, 0));
    }
    within("the paused client reads every push in order", async {
        for i in 0..PUSHES {
            assert_eq!(seq_of(&read_frame(&mut paused).await), i);
        }
    })
    .await;
    eventually("the other client got every push", || {
        good.pushes.load(Ordering::SeqCst) == PUSHES
    })
    .await;
    server.shutdown().await;
}
