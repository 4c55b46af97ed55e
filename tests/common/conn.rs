//! Helpers of the connection-core tests (`tests/core_*.rs`): a probe servant, a servant
//! wrapper that reports every close on a channel, raw TARS frames, and waits bounded by an
//! outer limit (so a deadlock fails a test instead of hanging it).

use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tars_core::client::ClientConfig;
use tars_core::prelude::*;
use tars_core::protocol::{
    self, encode_frame, ParamsReader, ParamsWriter, RequestPacket, ResponsePacket, TARS_VERSION,
};
use tars_core::server::{BoxFuture, CloseReason, Servant, ServerConfig};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

/// The servant object of [`CoreProbe`].
pub const CORE_OBJ: &str = "Test.CoreServer.CoreObj";

/// A servant with what the demo `Hello` lacks for the connection tests.
#[tars_interface]
pub trait CoreProbe {
    /// The uid of the connection the call came in on.
    async fn uid(&self, current: &Current) -> TarsResult<i64>;
    /// Returns `n` bytes: a response much larger than its request.
    async fn big(&self, n: i32, data: &mut Vec<u8>) -> TarsResult<i32>;
    /// Returns its input.
    async fn echo(&self, data: Vec<u8>, back: &mut Vec<u8>) -> TarsResult<i32>;
    /// Reports on the `parked` channel that it runs, then waits until
    /// [`CoreHandle::release`] (at most 60 s) and returns 0.
    async fn park(&self, current: &Current) -> TarsResult<i32>;
}

/// The implementation of [`CoreProbe`].
pub struct CoreImpl {
    parked: mpsc::UnboundedSender<u64>,
    release: Arc<Notify>,
}

/// The test's side of a [`CoreImpl`].
pub struct CoreHandle {
    /// The uid of the connection of every `park` call, as it starts.
    pub parked: mpsc::UnboundedReceiver<u64>,
    release: Arc<Notify>,
}

impl CoreHandle {
    /// Lets every running `park` call return.
    pub fn release(&self) {
        self.release.notify_waiters();
    }
}

impl CoreImpl {
    /// A servant and its handle.
    pub fn new() -> (CoreImpl, CoreHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        (
            CoreImpl {
                parked: tx,
                release: release.clone(),
            },
            CoreHandle {
                parked: rx,
                release,
            },
        )
    }
}

impl CoreProbe for CoreImpl {
    async fn uid(&self, current: &Current) -> TarsResult<i64> {
        Ok(current.uid() as i64)
    }

    async fn big(&self, n: i32, data: &mut Vec<u8>) -> TarsResult<i32> {
        *data = vec![0xA5; n.clamp(0, 64 << 20) as usize];
        Ok(0)
    }

    async fn echo(&self, data: Vec<u8>, back: &mut Vec<u8>) -> TarsResult<i32> {
        *back = data;
        Ok(0)
    }

    async fn park(&self, current: &Current) -> TarsResult<i32> {
        let released = self.release.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        let _ = self.parked.send(current.uid());
        let _ = tokio::time::timeout(Duration::from_secs(60), released).await;
        Ok(0)
    }
}

/// A connection that closed: its uid and why.
pub type Closed = (u64, Option<CloseReason>);

/// Wraps a servant and reports every `do_close` on a channel (after the inner one ran).
pub struct RecordCloses<S> {
    inner: S,
    tx: mpsc::UnboundedSender<Closed>,
}

impl<S: Servant> RecordCloses<S> {
    /// The wrapper and the receiving end of its closes.
    pub fn new(inner: S) -> (Self, mpsc::UnboundedReceiver<Closed>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (RecordCloses { inner, tx }, rx)
    }

    /// The wrapper, reporting on `tx` (several servants can share one channel).
    pub fn with_sender(inner: S, tx: mpsc::UnboundedSender<Closed>) -> Self {
        RecordCloses { inner, tx }
    }
}

impl<S: Servant> Servant for RecordCloses<S> {
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        func: &'a str,
        params: ParamsReader,
    ) -> BoxFuture<'a, TarsResult<ParamsWriter>> {
        self.inner.dispatch(current, func, params)
    }

    fn do_close(&self, current: &Current) {
        self.inner.do_close(current);
        let _ = self.tx.send((current.uid(), current.close_reason()));
    }
}

/// Starts a server with one servant `obj` on `endpoint`; returns it and its port.
pub async fn serve(
    obj: &str,
    endpoint: &str,
    servant: impl Servant,
    config: ServerConfig,
) -> (Server, u16) {
    let server = Server::builder()
        .config(config)
        .servant(obj, endpoint, servant)
        .start()
        .await
        .expect("server starts");
    let port = server.endpoint(obj).expect("bound").port;
    (server, port)
}

/// `OBJ@tcp -h 127.0.0.1 -p PORT`.
pub fn target(obj: &str, port: u16) -> String {
    format!("{obj}@tcp -h 127.0.0.1 -p {port}")
}

/// A typed proxy of a new communicator with `config`.
pub fn proxy_with<P: Proxy>(obj: &str, port: u16, config: ClientConfig) -> P {
    Communicator::with_config(config)
        .string_to_proxy(&target(obj, port))
        .expect("proxy")
}

/// Receives the next item of `rx`, failing the test if none comes within `limit` (an outer
/// bound: the event is expected much sooner) or the channel closes.
pub async fn recv_within<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str, limit: Duration) -> T {
    match tokio::time::timeout(limit, rx.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("{what}: the channel closed"),
        Err(_) => panic!("{what} did not happen within {limit:?}"),
    }
}

/// Everything already sent on `rx`.
pub fn drain<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> Vec<T> {
    let mut items = Vec::new();
    while let Ok(item) = rx.try_recv() {
        items.push(item);
    }
    items
}

/// A framed two-way TARS request as a raw peer sends it.
pub fn raw_request(id: i32, obj: &str, func: &str, params: Bytes, timeout_ms: i32) -> Bytes {
    encode_frame(&RequestPacket {
        version: TARS_VERSION,
        packet_type: protocol::NORMAL_PACKET,
        message_type: 0,
        request_id: id,
        servant_name: obj.to_string(),
        func_name: func.to_string(),
        buffer: params,
        timeout: timeout_ms,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    })
}

/// The TARS sBuffer of a call whose only parameter, at tag 1, is the int `v`.
pub fn int_param(name: &str, v: i32) -> Bytes {
    let mut w = ParamsWriter::new(TARS_VERSION);
    w.write(1, name, &v);
    w.finish()
}

/// Reads one response frame from a raw connection: `None` when the peer closed it.
pub async fn read_response(stream: &mut TcpStream) -> Option<ResponsePacket> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.ok()?;
    let len = u32::from_be_bytes(len) as usize;
    let mut body = BytesMut::zeroed(len.checked_sub(4)?);
    stream.read_exact(&mut body).await.ok()?;
    Some(ResponsePacket::from_tars_bytes(body.freeze()).expect("a well-formed response"))
}
