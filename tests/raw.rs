//! Third-party protocols: parsers fed byte by byte or many frames at once, bad lengths closing
//! only their connection, idle timeouts reaching `do_close`, pushes interleaved with
//! responses, 1,000 raw clients, and a TARS and a raw servant in one server.

mod common;

use bytes::Bytes;
use common::{eventually, within};
use futures_util::future::join_all;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tars_core::protocol::ResponsePacket;
use tars_core::server::{CloseReason, RawServant};
use tars_core::{Communicator, Current, Endpoint, ServantProxy, Server};
use tars_rs::demo::hello::{HelloImpl, HelloProxy, HelloServant, HELLO_OBJ};
use tars_rs::demo::raw_push::{
    decode, encode, framing, DemoRequestEncoder, DemoResponseDecoder, RawPushServer, PUSH_PAYLOAD,
    RAW_PUSH_OBJ,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The demo servant, recording close reasons.
#[derive(Clone, Default)]
struct Recording {
    inner: RawPushServer,
    closes: Arc<Mutex<Vec<Option<CloseReason>>>>,
}

impl RawServant for Recording {
    async fn do_request(&self, current: &Current, packet: Bytes) -> Option<Bytes> {
        self.inner.do_request(current, packet).await
    }
    fn do_close(&self, current: &Current) {
        self.closes.lock().unwrap().push(current.close_reason());
    }
}

async fn start(servant: Recording, endpoint: &str) -> (Server, String) {
    let server = Server::builder()
        .raw_servant(RAW_PUSH_OBJ, endpoint, framing(), servant)
        .start()
        .await
        .unwrap();
    let addr = format!("127.0.0.1:{}", server.endpoint(RAW_PUSH_OBJ).unwrap().port);
    (server, addr)
}

async fn read_frame(s: &mut TcpStream) -> (u32, Bytes) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut rest = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut rest).await.unwrap();
    let mut frame = len.to_vec();
    frame.extend(rest);
    decode(&Bytes::from(frame))
}

#[tokio::test]
async fn frame_written_one_byte_at_a_time() {
    let (server, addr) = start(Recording::default(), "tcp -h 127.0.0.1 -p 0").await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    for byte in encode(7, b"slowly").iter() {
        s.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        within("echo", read_frame(&mut s)).await,
        (7, Bytes::from_static(b"slowly"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn several_frames_in_one_write() {
    let (server, addr) = start(Recording::default(), "tcp -h 127.0.0.1 -p 0").await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let mut all = Vec::new();
    for id in 1..=20u32 {
        all.extend_from_slice(&encode(id, format!("frame {id}").as_bytes()));
    }
    s.write_all(&all).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let (id, body) = within("echoes", read_frame(&mut s)).await;
        assert_eq!(body, format!("frame {id}").as_bytes());
        seen.push(id);
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    server.shutdown().await;
}

#[tokio::test]
async fn bad_lengths_close_only_that_connection() {
    let servant = Recording::default();
    let (server, addr) = start(servant.clone(), "tcp -h 127.0.0.1 -p 0").await;
    let mut good = TcpStream::connect(&addr).await.unwrap();
    for bad_len in [7u32, 0, 1_000_001, u32::MAX] {
        let mut bad = TcpStream::connect(&addr).await.unwrap();
        bad.write_all(&bad_len.to_be_bytes()).await.unwrap();
        bad.write_all(&[0u8; 8]).await.unwrap();
        let mut buf = [0u8; 16];
        let n = within("bad connection closed", bad.read(&mut buf))
            .await
            .unwrap_or(0);
        assert_eq!(n, 0, "length {bad_len} must close the connection");
        good.write_all(&encode(1, b"still here")).await.unwrap();
        assert_eq!(
            within("good echo", read_frame(&mut good)).await,
            (1, Bytes::from_static(b"still here"))
        );
    }
    eventually("four parse-error closes", || {
        servant
            .closes
            .lock()
            .unwrap()
            .iter()
            .filter(|r| matches!(r, Some(CloseReason::Error(_))))
            .count()
            == 4
    })
    .await;
    server.shutdown().await;
}

/// Waits until the server closes `s` and `servant`'s `do_close` saw the idle timeout.
async fn closed_for_idle(s: &mut TcpStream, servant: &Recording) {
    let mut buf = [0u8; 8];
    assert_eq!(within("idle close", s.read(&mut buf)).await.unwrap(), 0);
    eventually("do_close saw the idle timeout", || {
        servant
            .closes
            .lock()
            .unwrap()
            .contains(&Some(CloseReason::IdleTimeout))
    })
    .await;
}

/// The idle timeout counts from the last traffic: a peer that keeps talking outlives it many
/// times over, and is closed once it goes quiet.
#[tokio::test]
async fn a_talking_connection_outlives_the_idle_timeout() {
    let servant = Recording::default();
    let (server, addr) = start(servant.clone(), "tcp -h 127.0.0.1 -p 0 -t 200").await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    // 12 round trips 50 ms apart: three times the 200 ms idle timeout.
    for i in 0..12 {
        s.write_all(&encode(i, b"tick")).await.unwrap();
        assert_eq!(
            within("echo", read_frame(&mut s)).await,
            (i, Bytes::from_static(b"tick"))
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        servant.closes.lock().unwrap().is_empty(),
        "closed while talking"
    );
    closed_for_idle(&mut s, &servant).await;
    server.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_calls_do_close() {
    let servant = Recording::default();
    let (server, addr) = start(servant.clone(), "tcp -h 127.0.0.1 -p 0 -t 200").await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&encode(1, b"hi")).await.unwrap();
    read_frame(&mut s).await;
    closed_for_idle(&mut s, &servant).await;
    assert!(servant.inner.registry.is_empty());
    server.shutdown().await;
}

fn raw_proxy(addr: &str, pushes: Arc<AtomicUsize>) -> ServantProxy {
    let port = addr.rsplit(':').next().unwrap();
    let proxy = Communicator::new()
        .servant_proxy(&format!("{RAW_PUSH_OBJ}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    proxy.set_request_encoder(DemoRequestEncoder);
    proxy.set_response_decoder(DemoResponseDecoder);
    proxy.set_push_callback(move |_: &Endpoint, push: ResponsePacket| {
        assert_eq!(push.request_id, 0);
        assert_eq!(push.buffer, PUSH_PAYLOAD.as_bytes());
        pushes.fetch_add(1, Ordering::SeqCst);
    });
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_and_responses_interleave_without_mixing_ids() {
    let servant = Recording::default();
    let (server, addr) = start(servant.clone(), "tcp -h 127.0.0.1 -p 0").await;
    let pushes = Arc::new(AtomicUsize::new(0));
    let proxy = raw_proxy(&addr, pushes.clone());
    proxy
        .rpc_call(
            proxy.gen_request_id(),
            "hello",
            Bytes::from_static(b"first"),
        )
        .await
        .unwrap();
    let pusher = servant.inner.start_pushing(Duration::from_millis(1));
    eventually("the push storm started", || {
        pushes.load(Ordering::SeqCst) >= 5
    })
    .await;
    let calls = (0..500).map(|i| {
        let proxy = proxy.clone();
        async move {
            let id = proxy.gen_request_id();
            let body = Bytes::from(format!("call {i}"));
            let response = proxy.rpc_call(id, "echo", body.clone()).await.unwrap();
            assert_eq!((response.request_id, response.buffer), (id, body));
        }
    });
    within("500 calls under a push storm", join_all(calls)).await;
    let after_calls = pushes.load(Ordering::SeqCst);
    eventually("pushes keep arriving on the same connection", || {
        pushes.load(Ordering::SeqCst) >= after_calls + 5
    })
    .await;
    pusher.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_raw_clients_receive_every_push() {
    let servant = Recording::default();
    let (server, addr) = start(servant.clone(), "tcp -h 127.0.0.1 -p 0").await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(&encode(1, b"register")).await.unwrap();
        clients.push(s);
    }
    let registry = servant.inner.registry.clone();
    eventually("1,000 clients registered", || registry.len() == 1000).await;
    const ROUNDS: u32 = 3;
    for _ in 0..ROUNDS {
        registry.broadcast(&encode(0, PUSH_PAYLOAD.as_bytes()));
    }
    let reads = clients.iter_mut().map(|s| async move {
        assert_eq!(read_frame(s).await, (1, Bytes::from_static(b"register")));
        for _ in 0..ROUNDS {
            assert_eq!(
                read_frame(s).await,
                (0, Bytes::from_static(PUSH_PAYLOAD.as_bytes()))
            );
        }
    });
    within("every client read every push", join_all(reads)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn tars_and_raw_servants_share_a_server() {
    let server = Server::builder()
        .servant(
            HELLO_OBJ,
            "tcp -h 127.0.0.1 -p 0",
            HelloServant::new(HelloImpl::default()),
        )
        .raw_servant(
            RAW_PUSH_OBJ,
            "tcp -h 127.0.0.1 -p 0",
            framing(),
            RawPushServer::default(),
        )
        .start()
        .await
        .unwrap();
    let hello_port = server.endpoint(HELLO_OBJ).unwrap().port;
    let raw_addr = format!("127.0.0.1:{}", server.endpoint(RAW_PUSH_OBJ).unwrap().port);
    let hello: HelloProxy = Communicator::new()
        .string_to_proxy(&format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {hello_port}"))
        .unwrap();
    assert_eq!(
        hello.say_hello("raw").await.unwrap(),
        (0, "hello raw".to_string())
    );
    let proxy = raw_proxy(&raw_addr, Arc::new(AtomicUsize::new(0)));
    let r = proxy
        .rpc_call(9, "x", Bytes::from_static(b"ping"))
        .await
        .unwrap();
    assert_eq!((r.request_id, r.buffer), (9, Bytes::from_static(b"ping")));
    server.shutdown().await;
}

/// A servant whose every piece of user code around a close panics: the parser on a `PANIC`
/// packet, one close hook per connection, and `do_close`.
#[derive(Clone, Default)]
struct Panicky {
    registry: tars_core::CurrentRegistry,
    /// Runs of the well-behaved close hook and of `do_close`.
    hooks_run: Arc<AtomicUsize>,
    do_closes: Arc<AtomicUsize>,
}

impl RawServant for Panicky {
    async fn do_request(&self, current: &Current, packet: Bytes) -> Option<Bytes> {
        current.on_close(|| panic!("deliberate test panic in a close hook"));
        self.registry.insert(current);
        let hooks_run = self.hooks_run.clone();
        current.on_close(move || {
            hooks_run.fetch_add(1, Ordering::SeqCst);
        });
        Some(packet)
    }
    fn do_close(&self, _current: &Current) {
        self.do_closes.fetch_add(1, Ordering::SeqCst);
        panic!("deliberate test panic in do_close");
    }
}

#[tokio::test]
async fn panicking_parser_hook_and_do_close_leave_the_registry_empty() {
    within("the test", async {
        let servant = Panicky::default();
        let parser = |input: &mut bytes::BytesMut| {
            if input.starts_with(b"PANIC") {
                panic!("deliberate test panic in a parser");
            }
            tars_core::server::PacketParser::parse(&framing(), input)
        };
        let server = Server::builder()
            .raw_servant(
                RAW_PUSH_OBJ,
                "tcp -h 127.0.0.1 -p 0 -t 60000",
                parser,
                servant.clone(),
            )
            .start()
            .await
            .unwrap();
        let addr = format!("127.0.0.1:{}", server.endpoint(RAW_PUSH_OBJ).unwrap().port);
        for round in 1..=2 {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.write_all(&encode(1, b"hi")).await.unwrap();
            assert_eq!(read_frame(&mut s).await.0, 1);
            assert_eq!(servant.registry.len(), 1);
            s.write_all(b"PANIC!!!").await.unwrap();
            let mut buf = [0u8; 8];
            assert!(
                matches!(s.read(&mut buf).await, Ok(0) | Err(_)),
                "the parser's panic closes the connection"
            );
            eventually("cleanup ran", || {
                servant.do_closes.load(Ordering::SeqCst) == round
            })
            .await;
            assert!(servant.registry.is_empty(), "no entry is left behind");
            assert_eq!(servant.hooks_run.load(Ordering::SeqCst), round);
            assert_eq!(server.panics(), 3 * round as u64, "parser, hook, do_close");
        }
        server.shutdown().await;
    })
    .await
}

/// A servant that records when it is dropped.
struct DropsOnce {
    inner: Recording,
    dropped: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for DropsOnce {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl RawServant for DropsOnce {
    async fn do_request(&self, current: &Current, packet: Bytes) -> Option<Bytes> {
        self.inner.do_request(current, packet).await
    }
}

/// When `shutdown` returns, nothing of the server holds the servant any more (its idle sweep
/// included), on an endpoint with an idle timeout and a connection that was served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_after_the_servant_is_dropped() {
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let servant = DropsOnce {
        inner: Recording::default(),
        dropped: dropped.clone(),
    };
    let server = Server::builder()
        .raw_servant(
            RAW_PUSH_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            framing(),
            servant,
        )
        .start()
        .await
        .unwrap();
    let addr = format!("127.0.0.1:{}", server.endpoint(RAW_PUSH_OBJ).unwrap().port);
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&encode(3, b"once")).await.unwrap();
    assert_eq!(within("echo", read_frame(&mut s)).await.0, 3);
    drop(s);
    within("shutdown", server.shutdown()).await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the servant outlived shutdown"
    );
}
