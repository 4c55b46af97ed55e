//! The [`Servant`] trait that `#[tars_interface]` implements, and how a TARS adapter turns
//! request frames into calls and responses.

use super::connection::ConnectionProtocol;
use super::current::{CloseReason, Connection, Current, RequestInfo};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{
    self, encode_frame, encode_frame_into, frame_body, LengthPrefix, ParamsReader, ParamsWriter,
    RequestHead, RequestPacket, ResponsePacket,
};
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A TARS servant: answers calls by function name. `#[tars_interface]` generates the
/// implementation (`HelloServant::new(my_impl)`); implement it by hand only for dynamic
/// dispatch.
pub trait Servant: Send + Sync + 'static {
    /// Decodes the parameters of `func`, runs it and encodes the return value and out
    /// parameters. An `Err` becomes the response's iRet and sResultDesc; an unknown function
    /// must answer [`protocol::SERVER_NO_FUNC_ERR`].
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        func: &'a str,
        params: ParamsReader,
    ) -> BoxFuture<'a, TarsResult<ParamsWriter>>;

    /// [`dispatch`](Self::dispatch) owning what it needs, so a call that waits can move to
    /// its own task: the server calls this. The default boxes `dispatch`'s future inside
    /// another; `#[tars_interface]` generates one that boxes once.
    fn dispatch_owned(
        self: Arc<Self>,
        current: Current,
        params: ParamsReader,
    ) -> BoxFuture<'static, TarsResult<ParamsWriter>> {
        Box::pin(async move { self.dispatch(&current, current.func_name(), params).await })
    }

    /// Called once for every connection of this servant's adapter that closes (peer close,
    /// server close, idle timeout, error, shutdown).
    fn do_close(&self, current: &Current) {
        let _ = current;
    }
}

/// A TARS adapter: one servant behind one endpoint.
pub(crate) struct TarsAdapter {
    pub(crate) servant_name: Arc<str>,
    pub(crate) servant: Arc<dyn Servant>,
    pub(crate) framing: LengthPrefix,
    pub(crate) queue_timeout: Duration,
}

impl ConnectionProtocol for TarsAdapter {
    fn split(&self, _conn: &Connection, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        self.framing.split_frame(buf).map_err(|e| e.to_string())
    }

    fn on_packet(
        &self,
        conn: &Arc<Connection>,
        frame: Bytes,
        received: Instant,
        out: &mut BytesMut,
    ) {
        let frame_len = frame.len();
        let request = match RequestHead::decode(frame_body(frame)) {
            Ok(r) => r,
            Err(e) => {
                // TarsCpp closes a connection whose request cannot be decoded; so do we.
                warn!(uid = conn.uid, peer = %conn.peer, error = %e, "undecodable request, closing");
                conn.close_with(CloseReason::Error(format!("undecodable request: {e}")));
                return;
            }
        };
        let buffer = request.buffer;
        let info = Arc::new(RequestInfo {
            version: request.version,
            packet_type: request.packet_type,
            message_type: request.message_type,
            request_id: request.request_id,
            func_name: request.func_name,
            timeout_ms: request.timeout,
            context: request.context,
            status: request.status,
            response_context: Mutex::new(BTreeMap::new()),
        });
        let current = Current {
            conn: conn.clone(),
            request: Some(info),
        };

        // Compared as bytes: the name is not copied out of the frame.
        if request.servant_name != self.servant_name.as_bytes() {
            let desc = format!(
                "no servant `{}` here (this adapter serves `{}`)",
                String::from_utf8_lossy(&request.servant_name),
                self.servant_name
            );
            return write_reply(
                &current,
                Err(TarsError::ret(protocol::SERVER_NO_SERVANT_ERR, desc)),
                out,
            );
        }
        if !matches!(
            current.version(),
            protocol::TARS_VERSION | protocol::TUP_VERSION
        ) {
            let desc = format!(
                "protocol version {} is not supported (only 1 TARS and 3 TUP)",
                current.version()
            );
            return write_reply(
                &current,
                Err(TarsError::ret(protocol::SERVER_DECODE_ERR, desc)),
                out,
            );
        }
        if current.func_name() == protocol::TARS_PING {
            return write_reply(&current, Ok(ParamsWriter::new(current.version())), out);
        }
        let mut admitted = match conn.admit(frame_len) {
            Ok(admitted) => admitted,
            Err(why) => {
                debug!(uid = conn.uid, why, "overloaded, answering -9");
                let overload = TarsError::ret(protocol::SERVER_OVERLOAD, why);
                return write_reply(&current, Err(overload), out);
            }
        };

        // Poll the call once right here: most calls finish without waiting, and their reply
        // joins this batch's single append with no task, channel or copy. A call that waits
        // moves to its own task (a future must use the waker of its latest poll, so the task
        // takes over cleanly), bounded by its connection and its caller's deadline.
        let deadline = (!current.is_oneway() && current.timeout_ms() > 0).then(|| {
            tokio::time::Instant::from_std(received)
                + Duration::from_millis(current.timeout_ms() as u64)
        });
        let params = match admit_call(&current, buffer, received, self.queue_timeout) {
            Ok(params) => params,
            Err(e) => {
                drop(admitted);
                return write_reply(&current, Err(e), out);
            }
        };
        // One box per call: the generated `dispatch_owned`; a panic becomes -99.
        let call = self.servant.clone().dispatch_owned(current.clone(), params);
        let mut call = AssertUnwindSafe(call).catch_unwind();
        match Pin::new(&mut call).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => {
                drop(admitted);
                write_reply(&current, unwound(&current, result), out);
            }
            Poll::Pending => {
                admitted.hold_bytes(&conn.server, frame_len);
                let conn = conn.clone();
                tokio::spawn(async move {
                    let _admitted = admitted;
                    let Some(result) = bounded(call, &conn, deadline).await else {
                        return;
                    };
                    let mut frame = BytesMut::new();
                    write_reply(&current, unwound(&current, result), &mut frame);
                    if !frame.is_empty() && current.conn.send_response(&frame).is_err() {
                        debug!(
                            uid = current.uid(),
                            "connection closed before the response was sent"
                        );
                    }
                });
            }
        }
    }

    fn on_shutdown(&self, conn: &Arc<Connection>) {
        // TarsGo's graceful-shutdown notice: push clients reconnect elsewhere.
        let notice = encode_frame(&ResponsePacket {
            version: protocol::TARS_VERSION,
            result_desc: protocol::RECONNECT_DESC.to_string(),
            ..ResponsePacket::default()
        });
        let _ = conn.send_unsolicited(&notice);
    }

    fn on_close(&self, current: &Current) {
        self.servant.do_close(current);
    }
}

/// Awaits a handler that waits, but no longer than its connection lives or its caller waits:
/// `None` (the handler is dropped, its slots freed, nothing answered) when the connection
/// closes or the caller's deadline passes. Only handlers that wait pay for this (one
/// cancellation waiter and, with a deadline, one timer).
pub(crate) async fn bounded<F: Future>(
    handler: F,
    conn: &Connection,
    deadline: Option<tokio::time::Instant>,
) -> Option<F::Output> {
    let expired = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        done = handler => Some(done),
        _ = conn.closed_token().cancelled() => {
            debug!(uid = conn.uid, "connection closed, handler cancelled");
            None
        }
        _ = expired => {
            debug!(uid = conn.uid, "the caller's deadline passed, handler dropped");
            None
        }
    }
}

/// Checks a call's queueing time and decodes its parameters; an `Err` is answered instead
/// of running the call.
///
/// "Queueing" is what TarsCpp measures: from the moment the request's bytes were read to the
/// moment its handler starts. A request longer than `queue_timeout` (the adapter's
/// `queuetimeout`) or its caller's `iTimeout` in that state is answered -6 and not run. Here
/// the handler starts when the connection's task reaches the request in its read batch, so
/// the wait is the time the requests read before it in the same batch took.
fn admit_call(
    current: &Current,
    buffer: Bytes,
    received: Instant,
    queue_timeout: Duration,
) -> TarsResult<ParamsReader> {
    let timeout = current.timeout_ms();
    let waited = received.elapsed();
    if waited > queue_timeout || (timeout > 0 && waited > Duration::from_millis(timeout as u64)) {
        return Err(TarsError::ret(
            protocol::SERVER_QUEUE_TIMEOUT,
            format!(
                "request waited {} ms in the server queue, past its timeout",
                waited.as_millis()
            ),
        ));
    }
    ParamsReader::new(current.version(), buffer)
        .map_err(|e| TarsError::ret(protocol::SERVER_DECODE_ERR, format!("bad sBuffer: {e}")))
}

/// A call's outcome, with a panic in the servant turned into -99.
fn unwound(
    current: &Current,
    result: std::thread::Result<TarsResult<ParamsWriter>>,
) -> TarsResult<ParamsWriter> {
    result.unwrap_or_else(|_| {
        current.conn.panicked("a servant method");
        Err(TarsError::ret(
            protocol::SERVER_UNKNOWN_ERR,
            "servant panicked",
        ))
    })
}

/// Appends the framed response to `current`'s request to `out`, in the request's version's
/// layout: a ResponsePacket for TARS, a RequestPacket with result status for TUP. Nothing for
/// one-way requests. A response larger than `max_frame_len` is not sent: the call is
/// answered -2 (`SERVER_ENCODE_ERR`) with a description instead, and the connection lives.
fn write_reply(current: &Current, result: TarsResult<ParamsWriter>, out: &mut BytesMut) {
    let Some(request) = current.request.as_ref() else {
        return;
    };
    if current.is_oneway() {
        return;
    }
    let (code, body, desc) = match result {
        // TARS results go from the writer straight into the frame.
        Ok(ParamsWriter::Tars(w)) => (protocol::SERVER_SUCCESS, Ok(w), String::new()),
        Ok(tup) => (protocol::SERVER_SUCCESS, Err(tup.finish()), String::new()),
        Err(e) => (e.code(), Err(Bytes::new()), e.desc()),
    };
    let buffer = match &body {
        Ok(w) => w.as_slice(),
        Err(b) => &b[..],
    };
    let context = current.take_response_context();
    let start = out.len();
    encode_reply(current, request, code, buffer, desc, context, out);
    let size = out.len() - start;
    let limit = current.conn.limits.max_frame_len;
    if size > limit {
        out.truncate(start);
        warn!(uid = current.uid(), func = %request.func_name, size, limit,
            "response exceeds the frame limit, answering -2");
        let desc = format!("response of {size} bytes exceeds the frame limit of {limit} bytes");
        let code = protocol::SERVER_ENCODE_ERR;
        encode_reply(current, request, code, &[], desc, BTreeMap::new(), out);
    }
}

fn encode_reply(
    current: &Current,
    request: &RequestInfo,
    code: i32,
    buffer: &[u8],
    desc: String,
    context: BTreeMap<String, String>,
    out: &mut BytesMut,
) {
    if request.version == protocol::TUP_VERSION {
        // A TUP client expects a map in sBuffer even for errors.
        let buffer = if buffer.is_empty() {
            ParamsWriter::new(protocol::TUP_VERSION).finish()
        } else {
            Bytes::copy_from_slice(buffer)
        };
        let mut status = BTreeMap::new();
        if code != 0 {
            status.insert(protocol::STATUS_RESULT_CODE.to_string(), code.to_string());
        }
        if !desc.is_empty() {
            status.insert(protocol::STATUS_RESULT_DESC.to_string(), desc);
        }
        let reply = RequestPacket {
            version: protocol::TUP_VERSION,
            packet_type: protocol::NORMAL_PACKET,
            message_type: request.message_type,
            request_id: request.request_id,
            servant_name: current.servant_name().to_string(),
            func_name: request.func_name.clone(),
            buffer,
            timeout: 0,
            context,
            status,
        };
        return encode_frame_into(&reply, out);
    }
    let head = (request.version, request.request_id, request.message_type);
    protocol::encode_response_into(head, code, buffer, &desc, &context, out);
}
