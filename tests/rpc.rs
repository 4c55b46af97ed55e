//! Behaviour of the RPC layer over real TCP on 127.0.0.1: our client against our server (and
//! against raw sockets playing a misbehaving peer). Every test is bounded in time; no test
//! asserts a duration tighter than the behaviour itself demands.
//!
//! Tests run on tokio's current-thread runtime (the `#[tokio::test]` default), so the server
//! and the client of a test share the test's thread. That makes the queue-timeout (-6) test
//! deterministic and lets [`panics_here`] see every panic of a test's server.

mod common;

use bytes::{Bytes, BytesMut};
use common::{eventually, hello_server, within};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};
use tars_core::client::ClientConfig;
use tars_core::prelude::*;
use tars_core::protocol::{
    self, encode_frame, ParamsWriter, RequestPacket, ResponsePacket, TARS_VERSION, TUP_VERSION,
};
use tars_core::server::{CloseReason, ServerConfig};
use tars_rs::demo::hello::{
    sample_all_types, sample_person, AllTypes, HelloImpl, HelloProxy, HelloServant, HELLO_OBJ,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The servant object of the test servant [`Probe`].
const PROBE_OBJ: &str = "Test.ProbeServer.ProbeObj";

// ---------------------------------------------------------------------------------------------
// Panic accounting: a hook that records the name of the thread of every panic.

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How many panics happened on this thread (the test's, which also runs its server).
fn panics_here() -> usize {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            PANICS.lock().unwrap_or_else(|e| e.into_inner()).push(name);
            previous(info);
        }));
    });
    let me = std::thread::current().name().unwrap_or("?").to_string();
    PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|n| **n == me)
        .count()
}

// ---------------------------------------------------------------------------------------------
// A test servant with the behaviours the demo `Hello` lacks.

#[tars_interface]
trait Probe {
    /// Fails with `code` and `desc`.
    async fn fail(&self, code: i32, desc: String) -> TarsResult<i32>;
    /// Panics.
    async fn boom(&self, msg: String) -> TarsResult<i32>;
    /// Returns the request context; answers with response context `{"echo": ctx[key]}`.
    async fn echo_context(
        &self,
        current: &Current,
        key: String,
        ctx: &mut BTreeMap<String, String>,
    ) -> TarsResult<i32>;
    /// The connection's uid, the local address it was accepted on and the call's iTimeout.
    async fn whoami(
        &self,
        current: &Current,
        uid: &mut i64,
        local: &mut String,
        timeout_ms: &mut i32,
    ) -> TarsResult<i32>;
    /// Sleeps `ms` (asynchronously) and returns `ms`.
    async fn hold(&self, ms: i32) -> TarsResult<i32>;
    /// Blocks its thread for `ms` (a servant misbehaving on purpose) and returns `ms`.
    async fn block(&self, ms: i32) -> TarsResult<i32>;
    /// Returns a string of `n` bytes.
    async fn big(&self, n: i32, data: &mut String) -> TarsResult<i32>;
    /// Waits until the test opens the gate ([`ProbeState::gate`]), then returns 7.
    async fn gate(&self) -> TarsResult<i32>;
}

struct ProbeState {
    /// Calls of every method.
    calls: AtomicUsize,
    /// `hold` calls started and finished.
    started: AtomicUsize,
    finished: AtomicUsize,
    /// `hold` calls that ended, finished or dropped by the server.
    ended: AtomicUsize,
    /// Opened by the test: each permit lets one `gate` call return.
    gate: tokio::sync::Semaphore,
    /// `gate` calls waiting.
    gated: AtomicUsize,
    /// The reason of every connection close, as `do_close` saw it.
    closes: Mutex<Vec<Option<CloseReason>>>,
}

impl Default for ProbeState {
    fn default() -> Self {
        ProbeState {
            calls: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
            gated: AtomicUsize::new(0),
            closes: Mutex::new(Vec::new()),
        }
    }
}

impl ProbeState {
    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
    fn ended(&self) -> usize {
        self.ended.load(Ordering::SeqCst)
    }
}

/// Counts a `hold` call as ended when it is dropped, finished or not.
struct Ends(Arc<ProbeState>);

impl Drop for Ends {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
    }
}

struct ProbeImpl(Arc<ProbeState>);

impl ProbeImpl {
    fn count(&self) {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Probe for ProbeImpl {
    async fn fail(&self, code: i32, desc: String) -> TarsResult<i32> {
        self.count();
        Err(TarsError::ret(code, desc))
    }

    async fn boom(&self, msg: String) -> TarsResult<i32> {
        self.count();
        panic!("{msg}")
    }

    async fn echo_context(
        &self,
        current: &Current,
        key: String,
        ctx: &mut BTreeMap<String, String>,
    ) -> TarsResult<i32> {
        self.count();
        *ctx = current.context().clone();
        let echo = current.context().get(&key).cloned().unwrap_or_default();
        current.set_response_context(BTreeMap::from([("echo".to_string(), echo)]));
        Ok(0)
    }

    async fn whoami(
        &self,
        current: &Current,
        uid: &mut i64,
        local: &mut String,
        timeout_ms: &mut i32,
    ) -> TarsResult<i32> {
        self.count();
        *uid = current.uid() as i64;
        *local = current.local_addr().to_string();
        *timeout_ms = current.timeout_ms();
        Ok(0)
    }

    async fn hold(&self, ms: i32) -> TarsResult<i32> {
        self.count();
        self.0.started.fetch_add(1, Ordering::SeqCst);
        let _ends = Ends(self.0.clone());
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        Ok(ms)
    }

    async fn block(&self, ms: i32) -> TarsResult<i32> {
        self.count();
        std::thread::sleep(Duration::from_millis(ms as u64));
        Ok(ms)
    }

    async fn big(&self, n: i32, data: &mut String) -> TarsResult<i32> {
        self.count();
        *data = "x".repeat(n.max(0) as usize);
        Ok(0)
    }

    async fn gate(&self) -> TarsResult<i32> {
        self.count();
        self.0.gated.fetch_add(1, Ordering::SeqCst);
        self.0.gate.acquire().await.expect("open").forget();
        Ok(7)
    }

    fn do_close(&self, current: &Current) {
        self.0.closes.lock().unwrap().push(current.close_reason());
    }
}

// ---------------------------------------------------------------------------------------------
// Servers, proxies and raw peers.

/// A Probe server on `endpoint` with `config`; returns it, its port and its state.
async fn probe_server_with(endpoint: &str, config: ServerConfig) -> (Server, u16, Arc<ProbeState>) {
    let state = Arc::new(ProbeState::default());
    let server = Server::builder()
        .servant(
            PROBE_OBJ,
            endpoint,
            ProbeServant::new(ProbeImpl(state.clone())),
        )
        .config(config)
        .start()
        .await
        .expect("probe server starts");
    let port = server.endpoint(PROBE_OBJ).expect("bound").port;
    (server, port, state)
}

async fn probe_server() -> (Server, u16, Arc<ProbeState>) {
    probe_server_with("tcp -h 127.0.0.1 -p 0 -t 60000", ServerConfig::default()).await
}

fn target(obj: &str, ports: &[u16]) -> String {
    let eps: Vec<String> = ports
        .iter()
        .map(|p| format!("tcp -h 127.0.0.1 -p {p}"))
        .collect();
    format!("{obj}@{}", eps.join(":"))
}

fn hello_proxy(port: u16) -> HelloProxy {
    Communicator::new()
        .string_to_proxy(&target(HELLO_OBJ, &[port]))
        .expect("proxy")
}

fn probe_proxy(port: u16) -> ProbeProxy {
    Communicator::new()
        .string_to_proxy(&target(PROBE_OBJ, &[port]))
        .expect("proxy")
}

/// A framed request as a raw peer would send it.
fn request_frame(
    id: i32,
    obj: &str,
    func: &str,
    buffer: Bytes,
    timeout_ms: i32,
    oneway: bool,
) -> Bytes {
    encode_frame(&RequestPacket {
        version: TARS_VERSION,
        packet_type: if oneway {
            protocol::ONEWAY_PACKET
        } else {
            protocol::NORMAL_PACKET
        },
        message_type: 0,
        request_id: id,
        servant_name: obj.to_string(),
        func_name: func.to_string(),
        buffer,
        timeout: timeout_ms,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    })
}

/// The TARS sBuffer of a call whose parameter at tag 1 is the int `v`.
fn int_param(v: i32) -> Bytes {
    let mut w = ParamsWriter::new(TARS_VERSION);
    w.write(1, "ms", &v);
    w.finish()
}

/// Reads one response frame from a raw connection: `None` when the peer closed it.
async fn read_response(stream: &mut TcpStream) -> Option<ResponsePacket> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.ok()?;
    let len = u32::from_be_bytes(len) as usize;
    let mut body = BytesMut::zeroed(len.checked_sub(4)?);
    stream.read_exact(&mut body).await.ok()?;
    Some(ResponsePacket::from_tars_bytes(body.freeze()).expect("a well-formed response"))
}

/// Whether the peer closes `stream` (EOF or reset) within `limit`, discarding what it sends.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, closed).await.is_ok()
}

fn expect_code<T: std::fmt::Debug>(result: TarsResult<T>, code: i32) -> TarsError {
    match result {
        Err(e) if e.code() == code => e,
        other => panic!("want return code {code}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips.

/// Every method of `Hello`, through our proxy and our server, in one encoding.
async fn every_hello_method(proxy: &HelloProxy) {
    assert_eq!(
        proxy.say_hello("world").await.unwrap(),
        (0, "hello world".to_string())
    );
    assert_eq!(
        proxy.say_hello("").await.unwrap(),
        (0, "hello ".to_string())
    );
    assert_eq!(proxy.add(i32::MAX, 1).await.unwrap(), (0, i32::MIN));
    assert_eq!(proxy.add(70000, -32769).await.unwrap(), (0, 37231));
    let bytes: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    assert_eq!(proxy.echo_bytes(&bytes).await.unwrap(), (0, bytes.clone()));
    assert_eq!(proxy.echo_bytes(&[]).await.unwrap(), (0, vec![]));
    assert_eq!(
        proxy.echo_struct(&sample_person()).await.unwrap(),
        (0, sample_person())
    );
    assert_eq!(
        proxy.echo_all(&sample_all_types()).await.unwrap(),
        (0, sample_all_types())
    );
    assert_eq!(
        proxy.echo_all(&AllTypes::default()).await.unwrap(),
        (0, AllTypes::default())
    );
    assert_eq!(proxy.slow(10).await.unwrap(), (0, 10));
    let e = expect_code(proxy.slow(-1).await, 1);
    assert!(e.desc().contains("ms must be within"), "{e}");
    proxy.notify("two-way note").await.unwrap();
    assert_eq!(
        proxy.last_notify().await.unwrap(),
        (0, "two-way note".to_string())
    );
    proxy.tars_ping().await.unwrap();
}

#[tokio::test]
async fn every_hello_method_round_trips_over_tars() {
    within("the test", async {
        let (server, port) = hello_server().await;
        every_hello_method(&hello_proxy(port)).await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn every_hello_method_round_trips_over_tup() {
    within("the test", async {
        let (server, port) = hello_server().await;
        every_hello_method(&hello_proxy(port).tup()).await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn tars_ping_answers_and_checks_the_servant_name() {
    within("the test", async {
        let (server, port) = hello_server().await;
        let proxy = hello_proxy(port);
        proxy.tars_ping().await.unwrap();
        proxy.tup().tars_ping().await.unwrap();
        let comm = Communicator::new();
        let wrong = comm
            .servant_proxy(&target("Test.HelloServer.NoSuchObj", &[port]))
            .unwrap();
        expect_code(wrong.tars_ping().await, protocol::SERVER_NO_SERVANT_ERR);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Concurrency and timeouts on one connection.

#[tokio::test]
async fn slow_call_does_not_delay_a_fast_one_on_the_same_connection() {
    within("the test", async {
        let (server, port, state) = probe_server().await;
        let proxy = probe_proxy(port).with_timeout(Duration::from_secs(20));
        let (_, uid, ..) = proxy.whoami().await.unwrap();
        let slow = tokio::spawn({
            let proxy = proxy.clone();
            async move { proxy.hold(3000).await }
        });
        eventually("the slow call runs", || state.started() == 1).await;
        let (_, fast_uid, ..) = proxy.whoami().await.unwrap();
        // The fast call came back while the slow one is still running, on the same connection.
        assert_eq!(state.finished(), 0, "the fast call waited for the slow one");
        assert!(!slow.is_finished());
        assert_eq!(fast_uid, uid, "both calls must share one connection");
        assert_eq!(slow.await.unwrap().unwrap(), 3000);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn per_call_timeout_fails_with_minus_7_and_the_connection_stays_usable() {
    within("the test", async {
        let (server, port, state) = probe_server().await;
        let proxy = probe_proxy(port);
        let (_, uid, _, default_timeout) = proxy.whoami().await.unwrap();
        assert_eq!(
            default_timeout, 3000,
            "the default timeout travels as iTimeout"
        );

        let short = proxy.with_timeout(Duration::from_millis(200));
        let started = Instant::now();
        let err = short.hold(1500).await.unwrap_err();
        assert!(matches!(err, TarsError::Timeout(200)), "{err:?}");
        assert_eq!(err.code(), protocol::INVOKE_TIMEOUT);
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(
            short.whoami().await.unwrap().3,
            200,
            "with_timeout travels as iTimeout"
        );

        // The server drops the handler once its caller's deadline (iTimeout) has passed: it
        // no longer holds an in-flight slot, nothing is answered, and the connection keeps
        // working.
        eventually("the timed-out call is dropped on the server", || {
            state.ended() == 1
        })
        .await;
        assert_eq!(state.finished(), 0, "the handler was not run to its end");
        let (ret, uid_after, ..) = proxy.whoami().await.unwrap();
        assert_eq!((ret, uid_after), (0, uid), "the connection was replaced");
        assert!(proxy.servant_proxy().is_connected(0));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn overload_answers_minus_9_to_the_call_past_the_per_connection_limit() {
    within("the test", async {
        let config = ServerConfig {
            max_in_flight_per_connection: 2,
            ..ServerConfig::default()
        };
        let (server, port, state) =
            probe_server_with("tcp -h 127.0.0.1 -p 0 -t 60000", config).await;
        let proxy = probe_proxy(port).with_timeout(Duration::from_secs(20));
        let held: Vec<_> = (0..2)
            .map(|_| {
                let proxy = proxy.clone();
                tokio::spawn(async move { proxy.hold(1000).await })
            })
            .collect();
        eventually("two calls are in flight", || state.started() == 2).await;
        let e = expect_code(proxy.hold(0).await, protocol::SERVER_OVERLOAD);
        assert!(matches!(e, TarsError::Ret { .. }), "{e:?}");
        for h in held {
            assert_eq!(h.await.unwrap().unwrap(), 1000);
        }
        // The slots are free again.
        assert_eq!(proxy.hold(0).await.unwrap(), 0);
        server.shutdown().await;
    })
    .await
}

/// A request that waited in the server longer than its iTimeout is answered -6 without being
/// run. Provoked deterministically: on this single-threaded runtime a servant that blocks its
/// thread for 300 ms keeps the next request (iTimeout 50 ms, read in the same batch) waiting.
#[tokio::test]
async fn request_that_waited_past_its_itimeout_gets_minus_6() {
    within("the test", async {
        let (server, port, state) = probe_server().await;
        let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut both = BytesMut::new();
        both.extend_from_slice(&request_frame(
            1,
            PROBE_OBJ,
            "block",
            int_param(300),
            10_000,
            false,
        ));
        both.extend_from_slice(&request_frame(
            2,
            PROBE_OBJ,
            "hold",
            int_param(0),
            50,
            false,
        ));
        raw.write_all(&both).await.unwrap();
        let mut responses = BTreeMap::new();
        for _ in 0..2 {
            let r = read_response(&mut raw).await.expect("a response");
            responses.insert(r.request_id, r);
        }
        assert_eq!(responses[&1].ret, 0);
        assert_eq!(
            responses[&2].ret,
            protocol::SERVER_QUEUE_TIMEOUT,
            "{:?}",
            responses[&2]
        );
        assert!(!responses[&2].result_desc.is_empty());
        assert_eq!(
            state.started(),
            0,
            "a request past its deadline must not run"
        );
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Return codes.

#[tokio::test]
async fn unknown_servant_is_minus_4_and_unknown_function_minus_3() {
    within("the test", async {
        let (server, port) = hello_server().await;
        let comm = Communicator::new();
        let wrong = comm
            .servant_proxy(&target("Test.HelloServer.NoSuchObj", &[port]))
            .unwrap();
        for p in [wrong.clone(), wrong.tup()] {
            let mut w = p.params_writer();
            w.write(1, "name", "x");
            let e = expect_code(
                p.invoke("sayHello", w).await,
                protocol::SERVER_NO_SERVANT_ERR,
            );
            assert!(e.desc().contains("NoSuchObj"), "{e}");
        }

        let right = comm.servant_proxy(&target(HELLO_OBJ, &[port])).unwrap();
        for p in [right.clone(), right.tup()] {
            let e = expect_code(
                p.invoke("noSuchFunc", p.params_writer()).await,
                protocol::SERVER_NO_FUNC_ERR,
            );
            assert!(matches!(e, TarsError::Ret { .. }), "{e:?}");
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn parameters_that_do_not_decode_are_minus_1_with_a_description() {
    within("the test", async {
        let (server, port) = hello_server().await;
        let proxy = Communicator::new()
            .servant_proxy(&target(HELLO_OBJ, &[port]))
            .unwrap();

        // Garbage TARS sBuffer: the first parameter cannot be read.
        let garbage = Bytes::from_static(&[0xFF, 0x00, 0x13, 0x37]);
        let r = proxy
            .call("sayHello", garbage.clone(), TARS_VERSION, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.ret, protocol::SERVER_DECODE_ERR);
        assert!(
            r.result_desc.contains("sayHello") && r.result_desc.contains("name"),
            "{}",
            r.result_desc
        );

        // A parameter of the wrong type (an int where a string is expected).
        let mut w = proxy.params_writer();
        w.write(1, "name", &7i32);
        let e = expect_code(
            proxy.invoke("sayHello", w).await,
            protocol::SERVER_DECODE_ERR,
        );
        assert!(e.desc().contains("sayHello"), "{e}");

        // Garbage TUP sBuffer, and a TUP map without the parameter.
        let r = proxy
            .call("sayHello", garbage, TUP_VERSION, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.ret, protocol::SERVER_DECODE_ERR);
        assert!(!r.result_desc.is_empty());
        let e = expect_code(
            proxy
                .tup()
                .invoke("sayHello", proxy.tup().params_writer())
                .await,
            -1,
        );
        assert!(e.desc().contains("name"), "{e}");

        // JSON (version 5) is not supported: -1 too, with a reason.
        let r = proxy
            .call(
                "sayHello",
                Bytes::from_static(b"{}"),
                protocol::JSON_VERSION,
                None,
            )
            .await;
        let r = r.unwrap().unwrap();
        assert_eq!(r.ret, protocol::SERVER_DECODE_ERR);
        assert!(r.result_desc.contains("version"), "{}", r.result_desc);

        // The connection is still fine.
        assert_eq!(
            hello_proxy(port).say_hello("ok").await.unwrap().1,
            "hello ok"
        );
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn handler_error_keeps_its_code_and_description() {
    within("the test", async {
        let (server, port, _) = probe_server().await;
        let proxy = probe_proxy(port);
        for p in [proxy.clone(), proxy.tup()] {
            match p.fail(1234, "boom").await {
                Err(TarsError::Ret { code: 1234, desc }) => assert_eq!(desc, "boom"),
                other => panic!("want Ret(1234, boom), got {other:?}"),
            }
            // Framework codes chosen by a servant pass through too.
            expect_code(p.fail(-6, "").await, -6);
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn panicking_handler_is_minus_99_and_the_server_keeps_serving() {
    within("the test", async {
        let (server, port, _) = probe_server().await;
        let proxy = probe_proxy(port);
        let (_, uid, ..) = proxy.whoami().await.unwrap();
        let before = panics_here();
        let e = expect_code(
            proxy.boom("deliberate test panic").await,
            protocol::SERVER_UNKNOWN_ERR,
        );
        assert!(matches!(e, TarsError::Ret { .. }), "{e:?}");
        assert_eq!(
            panics_here(),
            before + 1,
            "the servant's panic happened once, here"
        );
        // Same connection, still served; and a new connection too.
        assert_eq!(proxy.whoami().await.unwrap().1, uid);
        expect_code(
            proxy.tup().boom("again").await,
            protocol::SERVER_UNKNOWN_ERR,
        );
        assert_eq!(probe_proxy(port).whoami().await.unwrap().0, 0);
        assert_eq!(server.panics(), 2, "both panics were counted");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// One-way, context.

#[tokio::test]
async fn oneway_call_is_executed_and_gets_no_reply() {
    within("the test", async {
        let (server, port) = hello_server().await;
        // Through the proxy: returns at once with defaults; the server runs it.
        let proxy = hello_proxy(port);
        proxy.oneway().notify("one-way note").await.unwrap();
        assert_eq!(
            proxy.oneway().last_notify().await.unwrap(),
            (0, String::new())
        );
        let mut seen = String::new();
        for _ in 0..500 {
            seen = proxy.last_notify().await.unwrap().1;
            if seen == "one-way note" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(seen, "one-way note");

        // On the wire: the one-way request (id 1) is not answered; the next one (id 2) is.
        let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut w = ParamsWriter::new(TARS_VERSION);
        w.write(1, "msg", "raw one-way");
        let mut frames = BytesMut::new();
        frames.extend_from_slice(&request_frame(
            1,
            HELLO_OBJ,
            "notify",
            w.finish(),
            3000,
            true,
        ));
        frames.extend_from_slice(&request_frame(
            2,
            HELLO_OBJ,
            "lastNotify",
            Bytes::new(),
            3000,
            false,
        ));
        raw.write_all(&frames).await.unwrap();
        let r = read_response(&mut raw)
            .await
            .expect("the two-way call is answered");
        assert_eq!((r.request_id, r.ret), (2, 0), "{r:?}");
        assert!(
            tokio::time::timeout(Duration::from_millis(200), read_response(&mut raw))
                .await
                .is_err(),
            "the one-way call was answered"
        );
        // Its effect is visible.
        assert_eq!(proxy.last_notify().await.unwrap().1, "raw one-way");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn context_travels_both_ways() {
    within("the test", async {
        let (server, port, _) = probe_server().await;
        let ctx = BTreeMap::from([
            ("trace".to_string(), "t-1".to_string()),
            ("k".to_string(), "v".to_string()),
        ]);
        let proxy = probe_proxy(port).with_context(ctx.clone());
        assert_eq!(proxy.echo_context("k").await.unwrap(), (0, ctx.clone()));
        assert_eq!(
            proxy.tup().echo_context("k").await.unwrap(),
            (0, ctx.clone())
        );
        // Without with_context the servant sees an empty context.
        assert_eq!(
            probe_proxy(port).echo_context("k").await.unwrap(),
            (0, BTreeMap::new())
        );

        // The response context set by the servant reaches the caller (TARS and TUP).
        let raw = proxy.servant_proxy();
        for (p, version) in [(raw.clone(), TARS_VERSION), (raw.tup(), TUP_VERSION)] {
            let mut w = p.params_writer();
            w.write(1, "key", "trace");
            let r = p
                .call("echoContext", w.finish(), version, None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.ret, 0);
            assert_eq!(
                r.context,
                BTreeMap::from([("echo".to_string(), "t-1".to_string())]),
                "version {version}"
            );
        }
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Connections: idle timeout, peer drops, hostile bytes.

#[tokio::test]
async fn idle_timeout_closes_an_idle_connection() {
    within("the test", async {
        let (server, port, _) =
            probe_server_with("tcp -h 127.0.0.1 -p 0 -t 300", ServerConfig::default()).await;
        let started = Instant::now();
        let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(
            closed_within(&mut raw, Duration::from_secs(10)).await,
            "idle connection left open"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "closed before its idle timeout"
        );

        // A proxy whose connection was closed while idle reconnects for its next call.
        let proxy = probe_proxy(port);
        let (_, uid, ..) = proxy.whoami().await.unwrap();
        eventually("the proxy sees the idle close", || {
            !proxy.servant_proxy().is_connected(0)
        })
        .await;
        let (ret, uid2, ..) = proxy.whoami().await.unwrap();
        assert_eq!(ret, 0);
        assert_ne!(uid, uid2);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn dropped_connection_fails_in_flight_calls_at_once() {
    within("the test", async {
        // A "server" that accepts, reads the request, then hangs up without answering.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let fake = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0);
        });
        let proxy = hello_proxy(port).with_timeout(Duration::from_secs(10));
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(5), proxy.say_hello("x"))
            .await
            .expect("the call must fail when the connection drops, not at its 10 s deadline");
        match result {
            Err(e @ TarsError::ConnectionClosed(_)) => {
                assert!(e.to_string().contains("closed"), "{e}");
            }
            other => panic!("want ConnectionClosed, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        fake.await.unwrap();
    })
    .await
}

#[tokio::test]
async fn hostile_bytes_close_only_their_connection() {
    within("the test", async {
        let (server, port) = hello_server().await;
        let before = panics_here();
        let good = hello_proxy(port);
        assert_eq!(good.say_hello("a").await.unwrap().1, "hello a");

        let undecodable = {
            let mut f = vec![0, 0, 0, 12];
            f.extend_from_slice(&[0xFF; 8]);
            f
        };
        // A RequestPacket that stops after its first two (required) fields.
        let truncated_packet = vec![0, 0, 0, 7, 0x10, 0x01, 0x2C];
        let cases: [(&str, Vec<u8>); 5] = [
            ("length 0xFFFFFFFF", vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]),
            ("length 3", vec![0, 0, 0, 3, 0]),
            ("length 0", vec![0, 0, 0, 0]),
            ("undecodable packet", undecodable),
            ("truncated packet", truncated_packet),
        ];
        for (what, bytes) in cases {
            let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            raw.write_all(&bytes).await.unwrap();
            assert!(
                closed_within(&mut raw, Duration::from_secs(10)).await,
                "{what}: connection left open"
            );
            // The well-behaved client on its own connection is still served.
            assert_eq!(
                good.say_hello(what).await.unwrap().1,
                format!("hello {what}")
            );
        }
        // New connections are accepted and served; nothing panicked.
        assert_eq!(hello_proxy(port).add(2, 3).await.unwrap(), (0, 5));
        assert_eq!(panics_here(), before, "the server panicked");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Endpoints: round robin, dead endpoints, reconnects, graceful shutdown.

#[tokio::test]
async fn round_robin_across_two_servers() {
    within("the test", async {
        let (s1, p1, st1) = probe_server().await;
        let (s2, p2, st2) = probe_server().await;
        let proxy: ProbeProxy = Communicator::new()
            .string_to_proxy(&target(PROBE_OBJ, &[p1, p2]))
            .unwrap();
        let mut by_port: BTreeMap<u16, usize> = BTreeMap::new();
        for _ in 0..10 {
            let (_, _, local, _) = proxy.whoami().await.unwrap();
            let port: std::net::SocketAddr = local.parse().unwrap();
            *by_port.entry(port.port()).or_default() += 1;
        }
        assert_eq!(by_port, BTreeMap::from([(p1, 5), (p2, 5)]));
        assert_eq!(
            (
                st1.calls.load(Ordering::SeqCst),
                st2.calls.load(Ordering::SeqCst)
            ),
            (5, 5)
        );
        // Pinning to one endpoint bypasses round robin.
        for _ in 0..3 {
            proxy.on_endpoint(1).whoami().await.unwrap();
        }
        assert_eq!(st2.calls.load(Ordering::SeqCst), 8);
        s1.shutdown().await;
        s2.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn dead_endpoint_is_set_aside_and_calls_go_to_the_live_one() {
    within("the test", async {
        let (server, live, state) = probe_server().await;
        // A port that is bound but not listening refuses connections, and no other test can
        // take it while this socket holds it.
        let reserved = tokio::net::TcpSocket::new_v4().unwrap();
        reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let dead = reserved.local_addr().unwrap().port();
        let proxy: ProbeProxy = Communicator::new()
            .string_to_proxy(&target(PROBE_OBJ, &[dead, live]))
            .unwrap();
        for _ in 0..6 {
            let (ret, _, local, _) = proxy.whoami().await.unwrap();
            assert_eq!(ret, 0);
            assert!(local.ends_with(&format!(":{live}")), "{local}");
        }
        assert_eq!(state.calls.load(Ordering::SeqCst), 6);
        assert!(!proxy.servant_proxy().is_connected(0));
        assert!(proxy.servant_proxy().is_connected(1));
        // Pinned to the dead endpoint, a call fails with a connect error (-8).
        expect_code(
            proxy.on_endpoint(0).whoami().await,
            protocol::PROXY_CONNECT_ERR,
        );
        drop(reserved);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn proxy_reconnects_after_the_server_restarts_on_the_same_port() {
    within("the test", async {
        let (server, port) = hello_server().await;
        let proxy = hello_proxy(port);
        assert_eq!(proxy.say_hello("one").await.unwrap().1, "hello one");
        server.shutdown().await;
        eventually("the proxy sees the close", || {
            !proxy.servant_proxy().is_connected(0)
        })
        .await;

        // While the server is down, calls fail with a connect error.
        expect_code(proxy.say_hello("down").await, protocol::PROXY_CONNECT_ERR);

        let endpoint = format!("tcp -h 127.0.0.1 -p {port} -t 60000");
        let server = Server::builder()
            .servant(HELLO_OBJ, endpoint, HelloServant::new(HelloImpl::default()))
            .start()
            .await
            .expect("restart on the same port");
        assert_eq!(proxy.say_hello("two").await.unwrap().1, "hello two");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_calls_and_refuses_new_connections() {
    within("the test", async {
        let (server, port, state) = probe_server().await;
        let proxy = probe_proxy(port).with_timeout(Duration::from_secs(20));
        let slow = tokio::spawn({
            let proxy = proxy.clone();
            async move { proxy.hold(1000).await }
        });
        eventually("the slow call runs", || state.started() == 1).await;
        let shutdown = tokio::spawn(server.shutdown());

        // The listener goes away at once: new connections are refused while the call drains.
        let started = Instant::now();
        loop {
            match TcpStream::connect(("127.0.0.1", port)).await {
                Err(_) => break,
                Ok(_) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(10),
                        "still accepting"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        // The client retires the connection on the server's notice: new calls do not queue
        // behind the drain but try a new connection, which is refused.
        eventually("the client retires the connection", || {
            !proxy.servant_proxy().is_connected(0)
        })
        .await;
        expect_code(proxy.whoami().await, protocol::PROXY_CONNECT_ERR);
        // The in-flight call still gets its response.
        assert_eq!(slow.await.unwrap().unwrap(), 1000);
        assert_eq!(state.finished(), 1);
        shutdown.await.unwrap();
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "accepting after shutdown"
        );
        // The proxy then fails fast with a connect error rather than hanging.
        expect_code(proxy.whoami().await, protocol::PROXY_CONNECT_ERR);
    })
    .await
}

#[tokio::test]
async fn client_config_timeout_is_the_default_and_with_timeout_overrides_it() {
    within("the test", async {
        let (server, port, _) = probe_server().await;
        let comm = Communicator::with_config(ClientConfig {
            invoke_timeout: Duration::from_millis(150),
            ..ClientConfig::default()
        });
        let proxy: ProbeProxy = comm.string_to_proxy(&target(PROBE_OBJ, &[port])).unwrap();
        assert_eq!(proxy.whoami().await.unwrap().3, 150);
        assert!(matches!(
            proxy.hold(1000).await,
            Err(TarsError::Timeout(150))
        ));
        assert_eq!(
            proxy
                .with_timeout(Duration::from_secs(5))
                .hold(300)
                .await
                .unwrap(),
            300
        );
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The connection driver: full duplex, write stalls, draining, frame limits.

/// The TARS sBuffer of a call whose string parameter at tag 1 is `v`.
fn string_param(v: &str) -> Bytes {
    let mut w = ParamsWriter::new(TARS_VERSION);
    w.write(1, "name", v);
    w.finish()
}

/// A peer that writes 64 requests of 1 MiB before it reads anything gets all 64 answers
/// (1 MiB each): the server keeps reading while its writes wait for the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_large_calls_from_a_peer_that_reads_late_all_complete() {
    within("the test", async {
        let (server, port) = hello_server().await;
        let raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut rd, mut wr) = raw.into_split();
        let name = "n".repeat(1 << 20);
        let mut all = BytesMut::new();
        for id in 1..=64 {
            all.extend_from_slice(&request_frame(
                id,
                HELLO_OBJ,
                "sayHello",
                string_param(&name),
                60_000,
                false,
            ));
        }
        // Everything is written before the first byte is read.
        wr.write_all(&all).await.unwrap();
        let mut ids = std::collections::BTreeSet::new();
        let mut len = [0u8; 4];
        for _ in 0..64 {
            rd.read_exact(&mut len).await.unwrap();
            let mut body = BytesMut::zeroed(u32::from_be_bytes(len) as usize - 4);
            // Read slowly: in small pieces.
            for chunk in body.chunks_mut(64 * 1024) {
                rd.read_exact(chunk).await.unwrap();
            }
            let r = ResponsePacket::from_tars_bytes(body.freeze()).unwrap();
            assert_eq!(r.ret, 0, "{}", r.result_desc);
            assert!(r.buffer.len() > 1 << 20);
            ids.insert(r.request_id);
        }
        assert_eq!(ids, (1..=64).collect());
        drop(wr);
        server.shutdown().await;
    })
    .await
}

/// A peer that sends requests and never reads is closed once a write makes no progress for
/// `write_stall_timeout`, and `do_close` sees `CloseReason::WriteStalled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_closed_after_the_write_stall_timeout() {
    within("the test", async {
        let config = ServerConfig {
            write_stall_timeout: Duration::from_millis(200),
            ..ServerConfig::default()
        };
        let (server, port, state) =
            probe_server_with("tcp -h 127.0.0.1 -p 0 -t 60000", config).await;
        let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut all = BytesMut::new();
        for id in 1..=64 {
            let mut w = ParamsWriter::new(TARS_VERSION);
            w.write(1, "n", &(1i32 << 20));
            all.extend_from_slice(&request_frame(id, PROBE_OBJ, "big", w.finish(), 0, false));
        }
        raw.write_all(&all).await.unwrap();
        eventually("the stalled connection is closed", || {
            state
                .closes
                .lock()
                .unwrap()
                .contains(&Some(CloseReason::WriteStalled))
        })
        .await;
        // The server still serves others.
        assert_eq!(probe_proxy(port).whoami().await.unwrap().0, 0);
        drop(raw);
        server.shutdown().await;
    })
    .await
}

/// While the server drains for a graceful shutdown it keeps reading: a request sent after the
/// `_reconnect_` notice is answered, and the call in flight before it too.
#[tokio::test]
async fn shutdown_answers_requests_that_arrive_while_draining() {
    within("the test", async {
        let (server, port, state) = probe_server().await;
        let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let gate = request_frame(1, PROBE_OBJ, "gate", Bytes::new(), 60_000, false);
        raw.write_all(&gate).await.unwrap();
        eventually("the gated call runs", || {
            state.gated.load(Ordering::SeqCst) == 1
        })
        .await;
        let shutdown = tokio::spawn(server.shutdown());
        let notice = read_response(&mut raw).await.expect("the notice");
        assert_eq!(
            (notice.request_id, notice.result_desc.as_str()),
            (0, protocol::RECONNECT_DESC)
        );
        // Sent after the notice, while the gated call keeps the connection draining.
        let late = request_frame(2, PROBE_OBJ, "whoami", Bytes::new(), 60_000, false);
        raw.write_all(&late).await.unwrap();
        let r = read_response(&mut raw)
            .await
            .expect("the late request is answered");
        assert_eq!((r.request_id, r.ret), (2, 0), "{}", r.result_desc);
        state.gate.add_permits(1);
        let r = read_response(&mut raw)
            .await
            .expect("the gated call is answered");
        assert_eq!((r.request_id, r.ret), (1, 0), "{}", r.result_desc);
        drop(raw);
        shutdown.await.unwrap();
        assert_eq!(
            state.closes.lock().unwrap().len(),
            1,
            "do_close ran for the connection"
        );
    })
    .await
}

/// A response larger than `max_frame_len` is answered -2 with a description; the connection
/// (and the calls multiplexed on it) lives.
#[tokio::test]
async fn oversized_response_is_minus_2_and_the_connection_lives() {
    within("the test", async {
        let config = ServerConfig {
            max_frame_len: 64 * 1024,
            ..ServerConfig::default()
        };
        let (server, port, _) = probe_server_with("tcp -h 127.0.0.1 -p 0 -t 60000", config).await;
        let proxy = probe_proxy(port);
        let (_, uid, ..) = proxy.whoami().await.unwrap();
        let e = expect_code(proxy.big(100_000).await, protocol::SERVER_ENCODE_ERR);
        assert!(
            e.to_string()
                .contains("exceeds the frame limit of 65536 bytes"),
            "{e}"
        );
        assert_eq!(proxy.big(1000).await.unwrap().1.len(), 1000);
        let (ret, uid_after, ..) = proxy.whoami().await.unwrap();
        assert_eq!((ret, uid_after), (0, uid), "same connection");
        assert_eq!(server.panics(), 0);
        server.shutdown().await;
    })
    .await
}
