//! Panic safety (issue 11): a panicking push callback or response decoder on the client, and
//! a panicking close hook, `do_close` or packet parser on the server, never wedge a proxy,
//! leave a call waiting past its deadline, leak registry entries or skip `do_close`.
//! Every wait is bounded (an outer limit several times the behaviour's own), and events are
//! awaited on channels.

mod common;

use bytes::{Bytes, BytesMut};
use common::conn::{
    drain, proxy_with, recv_within, serve, target, CoreHandle, CoreImpl, CoreProbe,
};
use common::eventually;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tars_core::client::{ClientConfig, ResponseDecoder};
use tars_core::prelude::*;
use tars_core::protocol::ResponsePacket;
use tars_core::server::{CloseReason, PacketParser, Parsed, RawServant, ServerConfig};
use tars_rs::demo::push_callback::{PushPrxCallback, PushPrxDispatcher, PushSender};
use tars_rs::demo::raw_push::{
    framing, DemoRequestEncoder, DemoResponseDecoder, RawPushServer, RAW_PUSH_OBJ,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long any single expected event may take before the test fails (an outer bound).
const EVENT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Client side: a panicking push callback.

const PUSHING_OBJ: &str = "Test.CoreServer.PushingObj";

#[tars_interface]
trait Pushing {
    /// Subscribes the calling connection to pushes.
    async fn register_push(&self, current: &Current) -> TarsResult<i32>;
    /// As `CoreProbe::park`: waits until released.
    async fn park(&self, current: &Current) -> TarsResult<i32>;
}

struct PushingImpl {
    registry: CurrentRegistry,
    core: CoreImpl,
}

impl Pushing for PushingImpl {
    async fn register_push(&self, current: &Current) -> TarsResult<i32> {
        self.registry.insert(current);
        Ok(0)
    }
    async fn park(&self, current: &Current) -> TarsResult<i32> {
        CoreProbe::park(&self.core, current).await
    }
}

/// Forwards every push's `sRsp` and every connection close; panics on the push `"boom"`.
struct PanickyCallback {
    pushes: mpsc::UnboundedSender<String>,
    closes: mpsc::UnboundedSender<()>,
}

impl PushPrxCallback for PanickyCallback {
    fn callback_push_msg(&self, _ret: i32, s_rsp: String) {
        if s_rsp == "boom" {
            panic!("deliberate test panic in a push callback");
        }
        let _ = self.pushes.send(s_rsp);
    }
    fn on_close(&self, _: &Endpoint) {
        let _ = self.closes.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_push_callback_drops_that_push_only() {
    let registry = CurrentRegistry::new();
    let (core, mut handle): (CoreImpl, CoreHandle) = CoreImpl::new();
    let servant = PushingServant::new(PushingImpl {
        registry: registry.clone(),
        core,
    });
    let (server, port) = serve(
        PUSHING_OBJ,
        "tcp -h 127.0.0.1 -p 0 -t 0",
        servant,
        ServerConfig::default(),
    )
    .await;
    let (push_tx, mut pushes) = mpsc::unbounded_channel();
    let (close_tx, mut closes) = mpsc::unbounded_channel();
    let proxy: PushingProxy = proxy_with(PUSHING_OBJ, port, ClientConfig::default());
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(PanickyCallback {
            pushes: push_tx,
            closes: close_tx,
        }));
    assert_eq!(proxy.register_push().await.unwrap(), 0);
    let push = |msg: &str| registry.broadcast(&PushSender::push_msg_frame(0, msg));
    push("one");
    assert_eq!(recv_within(&mut pushes, "push `one`", EVENT).await, "one");

    // A call pending on the same connection while the callback panics.
    const PENDING_TIMEOUT: Duration = Duration::from_millis(1000);
    let pending = tokio::spawn({
        let proxy = proxy.with_timeout(PENDING_TIMEOUT);
        async move { proxy.park().await }
    });
    recv_within(
        &mut handle.parked,
        "the pending call reaches the servant",
        EVENT,
    )
    .await;

    push("boom");
    push("two");
    assert_eq!(
        recv_within(&mut pushes, "the push after the panicking one", EVENT).await,
        "two"
    );
    // The pending call ends by its own deadline (answered or timed out), never later; the
    // bound is several times its timeout.
    let outcome = tokio::time::timeout(PENDING_TIMEOUT * 5, pending)
        .await
        .expect("the call pending during the panic outlived its deadline")
        .expect("call task");
    eprintln!("the pending call ended with {outcome:?}");

    // The proxy still works, on the same connection: the panic did not close it.
    assert_eq!(
        tokio::time::timeout(EVENT, proxy.register_push())
            .await
            .expect("a call after the panic hung")
            .unwrap(),
        0
    );
    push("three");
    assert_eq!(
        recv_within(&mut pushes, "push `three`", EVENT).await,
        "three"
    );
    assert!(
        drain(&mut closes).is_empty(),
        "the panicking callback closed the connection"
    );
    assert_eq!(registry.len(), 1);
    handle.release();
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Client side: a panicking response decoder.

/// The raw demo servant, reporting each close. With `panicky`, the `do_close` of every
/// connection that sent `register` panics too (after reporting).
#[derive(Clone)]
struct RecordingRaw {
    inner: RawPushServer,
    closes: mpsc::UnboundedSender<(u64, Option<CloseReason>)>,
    panicky: Option<Arc<Mutex<HashSet<u64>>>>,
}

impl RecordingRaw {
    fn new(panicky: bool) -> (Self, mpsc::UnboundedReceiver<(u64, Option<CloseReason>)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let servant = RecordingRaw {
            inner: RawPushServer::default(),
            closes: tx,
            panicky: panicky.then(Arc::default),
        };
        (servant, rx)
    }
}

impl RawServant for RecordingRaw {
    async fn do_request(&self, current: &Current, packet: Bytes) -> Option<Bytes> {
        if let Some(marked) = &self.panicky {
            if packet.ends_with(b"register") {
                marked.lock().unwrap().insert(current.uid());
            }
        }
        self.inner.do_request(current, packet).await
    }
    fn do_close(&self, current: &Current) {
        let _ = self.closes.send((current.uid(), current.close_reason()));
        if let Some(marked) = &self.panicky {
            if marked.lock().unwrap().contains(&current.uid()) {
                panic!("deliberate test panic in a raw do_close");
            }
        }
    }
}

/// The demo decoder, panicking on a response whose payload is `boom`.
struct PanickyDecoder;

impl ResponseDecoder for PanickyDecoder {
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<ResponsePacket>, String> {
        let decoded = DemoResponseDecoder.decode(buf)?;
        if decoded.as_ref().is_some_and(|r| r.buffer == "boom") {
            panic!("deliberate test panic in a response decoder");
        }
        Ok(decoded)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_response_decoder_fails_the_call_and_the_next_call_reconnects() {
    let (servant, mut closes) = RecordingRaw::new(false);
    let server = Server::builder()
        .raw_servant(
            RAW_PUSH_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 0",
            framing(),
            servant,
        )
        .start()
        .await
        .unwrap();
    let port = server.endpoint(RAW_PUSH_OBJ).unwrap().port;
    const TIMEOUT: Duration = Duration::from_millis(1000);
    let proxy = Communicator::new()
        .servant_proxy(&target(RAW_PUSH_OBJ, port))
        .unwrap()
        .with_timeout(TIMEOUT);
    proxy.set_request_encoder(DemoRequestEncoder);
    proxy.set_response_decoder(PanickyDecoder);
    let call = |body: &'static str| {
        let proxy = proxy.clone();
        async move {
            let id = proxy.gen_request_id();
            tokio::time::timeout(TIMEOUT * 5, proxy.rpc_call(id, "echo", Bytes::from(body)))
                .await
                .unwrap_or_else(|_| panic!("call `{body}` outlived its deadline"))
        }
    };
    assert_eq!(call("fine").await.unwrap().buffer, "fine");
    let failed = call("boom").await;
    assert!(
        failed.is_err(),
        "an undecodable response succeeded: {failed:?}"
    );
    eprintln!(
        "the call whose decoder panicked failed with {:?}",
        failed.unwrap_err()
    );
    // That connection is closed: the server sees it go.
    recv_within(
        &mut closes,
        "the server sees the broken connection close",
        EVENT,
    )
    .await;
    // The next call reconnects and succeeds.
    assert_eq!(call("after").await.unwrap().buffer, "after");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Server side: panicking close hooks, do_close and packet parsers.

const FRAGILE_OBJ: &str = "Test.CoreServer.FragileObj";

/// How a connection misbehaves when it closes.
const NORMAL: i32 = 0;
const HOOK_PANICS: i32 = 1;
const DO_CLOSE_PANICS: i32 = 2;

#[tars_interface]
trait Fragile {
    /// Registers the connection; `mode` says how its close misbehaves.
    async fn register(&self, current: &Current, mode: i32) -> TarsResult<i32>;
    /// The connection's uid.
    async fn uid(&self, current: &Current) -> TarsResult<i64>;
}

#[derive(Clone)]
struct FragileImpl {
    registry: CurrentRegistry,
    panicking_do_close: Arc<Mutex<HashSet<u64>>>,
    closes: mpsc::UnboundedSender<u64>,
}

impl Fragile for FragileImpl {
    async fn register(&self, current: &Current, mode: i32) -> TarsResult<i32> {
        if mode == HOOK_PANICS {
            // Added before the registry's own hook, so a panic here must not skip that one.
            current.on_close(|| panic!("deliberate test panic in a close hook"));
        }
        self.registry.insert(current);
        if mode == DO_CLOSE_PANICS {
            self.panicking_do_close
                .lock()
                .unwrap()
                .insert(current.uid());
        }
        Ok(0)
    }

    async fn uid(&self, current: &Current) -> TarsResult<i64> {
        Ok(current.uid() as i64)
    }

    fn do_close(&self, current: &Current) {
        let _ = self.closes.send(current.uid());
        if self
            .panicking_do_close
            .lock()
            .unwrap()
            .contains(&current.uid())
        {
            panic!("deliberate test panic in do_close");
        }
    }
}

/// A server whose connection misbehaves on close as `mode` says, next to a well-behaved
/// client: the server keeps serving, the registry ends empty, do_close runs once each.
async fn fragile_close(mode: i32) {
    let (tx, mut closes) = mpsc::unbounded_channel();
    let servant = FragileImpl {
        registry: CurrentRegistry::new(),
        panicking_do_close: Arc::default(),
        closes: tx,
    };
    let registry = servant.registry.clone();
    let (server, port) = serve(
        FRAGILE_OBJ,
        "tcp -h 127.0.0.1 -p 0 -t 0",
        FragileServant::new(servant),
        ServerConfig::default(),
    )
    .await;
    let good: FragileProxy = proxy_with(FRAGILE_OBJ, port, ClientConfig::default());
    assert_eq!(good.register(NORMAL).await.unwrap(), 0);
    let good_uid = good.uid().await.unwrap() as u64;

    let mut uids = vec![good_uid];
    for round in 0..2 {
        let bad: FragileProxy = proxy_with(FRAGILE_OBJ, port, ClientConfig::default());
        assert_eq!(bad.register(mode).await.unwrap(), 0);
        let bad_uid = bad.uid().await.unwrap() as u64;
        assert_eq!(registry.len(), 2);
        bad.servant_proxy().disconnect(0);
        let closed =
            recv_within(&mut closes, "do_close of the misbehaving connection", EVENT).await;
        assert_eq!(closed, bad_uid, "round {round}");
        eventually("the misbehaving connection leaves the registry", || {
            !registry.contains(bad_uid)
        })
        .await;
        uids.push(bad_uid);
        // The other connection is still served, and new ones are accepted.
        assert_eq!(good.uid().await.unwrap() as u64, good_uid);
        let fresh: FragileProxy = proxy_with(FRAGILE_OBJ, port, ClientConfig::default());
        let fresh_uid = fresh.uid().await.unwrap() as u64;
        fresh.servant_proxy().disconnect(0);
        assert_eq!(
            recv_within(&mut closes, "do_close of a normal connection", EVENT).await,
            fresh_uid
        );
        uids.push(fresh_uid);
    }
    good.servant_proxy().disconnect(0);
    assert_eq!(
        recv_within(&mut closes, "do_close of the good connection", EVENT).await,
        good_uid
    );
    eventually("the registry is empty", || registry.is_empty()).await;
    server.shutdown().await;
    // Every connection has ended: each do_close ran exactly once.
    let late = drain(&mut closes);
    assert!(late.is_empty(), "do_close ran again for {late:?}");
    let distinct: HashSet<u64> = uids.iter().copied().collect();
    assert_eq!(distinct.len(), uids.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_close_hook_skips_no_cleanup() {
    fragile_close(HOOK_PANICS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_do_close_skips_no_cleanup() {
    fragile_close(DO_CLOSE_PANICS).await;
}

/// The demo framing, panicking on input that starts with `PANIC`.
struct PanickyParser;

impl PacketParser for PanickyParser {
    fn parse(&self, input: &mut BytesMut) -> Parsed {
        if input.starts_with(b"PANIC") {
            panic!("deliberate test panic in a packet parser");
        }
        framing().parse(input)
    }
}

/// Sends one demo frame and reads its echo.
async fn echo(s: &mut TcpStream, id: u32, body: &[u8]) -> (u32, Bytes) {
    s.write_all(&tars_rs::demo::raw_push::encode(id, body))
        .await
        .unwrap();
    let mut len = [0u8; 4];
    tokio::time::timeout(EVENT, s.read_exact(&mut len))
        .await
        .expect("echo within the bound")
        .expect("echo");
    let mut rest = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut rest).await.unwrap();
    let mut frame = len.to_vec();
    frame.extend(rest);
    tars_rs::demo::raw_push::decode(&Bytes::from(frame))
}

/// A connection whose parser panics (and whose `do_close` then panics too) is closed and
/// cleaned up; the others are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_packet_parser_closes_only_its_connection_and_cleans_up() {
    let (servant, mut closes) = RecordingRaw::new(true);
    let registry = servant.inner.registry.clone();
    let server = Server::builder()
        .raw_servant(
            RAW_PUSH_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 0",
            PanickyParser,
            servant,
        )
        .start()
        .await
        .unwrap();
    let addr = format!("127.0.0.1:{}", server.endpoint(RAW_PUSH_OBJ).unwrap().port);
    let mut good = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(echo(&mut good, 1, b"good").await.1, "good");

    let mut seen = BTreeMap::new();
    for round in 0..2u32 {
        let mut bad = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(echo(&mut bad, 1, b"register").await.1, "register");
        assert_eq!(registry.len(), 2);
        bad.write_all(b"PANIC!!!").await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(EVENT, bad.read(&mut buf))
            .await
            .expect("the connection whose parser panicked stays open")
            .unwrap_or(0);
        assert_eq!(n, 0, "round {round}");
        let (uid, reason) = recv_within(
            &mut closes,
            "do_close of the connection whose parser panicked",
            EVENT,
        )
        .await;
        eprintln!("closed after the parser panic: {reason:?}");
        *seen.entry(uid).or_insert(0) += 1;
        eventually("that connection leaves the registry", || {
            registry.len() == 1
        })
        .await;
        // The other connection is still served, and new connections are accepted.
        assert_eq!(
            echo(&mut good, round + 2, b"still here").await.1,
            "still here"
        );
        let mut fresh = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(echo(&mut fresh, 1, b"fresh").await.1, "fresh");
        drop(fresh);
        let (uid, _) = recv_within(&mut closes, "do_close of a normal connection", EVENT).await;
        *seen.entry(uid).or_insert(0) += 1;
        eventually("the closed connection leaves the registry", || {
            registry.len() == 1
        })
        .await;
    }
    drop(good);
    let (uid, _) = recv_within(&mut closes, "do_close of the good connection", EVENT).await;
    *seen.entry(uid).or_insert(0) += 1;
    eventually("the registry is empty", || registry.is_empty()).await;
    server.shutdown().await;
    for (uid, _) in drain(&mut closes) {
        *seen.entry(uid).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 5, "five connections closed: {seen:?}");
    assert!(
        seen.values().all(|n| *n == 1),
        "do_close once each: {seen:?}"
    );
}
