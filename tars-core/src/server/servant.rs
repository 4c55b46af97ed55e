//! The [`Servant`] trait that `#[tars_interface]` implements, and how a TARS adapter turns
//! request frames into calls and responses.

use super::connection::ConnectionProtocol;
use super::current::{CloseReason, Connection, Current, RequestInfo};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{
    self, encode_frame, frame_body, LengthPrefix, ParamsReader, ParamsWriter, RequestPacket,
    ResponsePacket,
};
use crate::TarsStruct;
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
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
    pub(crate) server_in_flight: Arc<Semaphore>,
}

impl ConnectionProtocol for TarsAdapter {
    fn split(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        self.framing.split_frame(buf).map_err(|e| e.to_string())
    }

    fn on_packet(&self, conn: &Arc<Connection>, frame: Bytes) {
        let request = match RequestPacket::from_tars_bytes(frame_body(&frame)) {
            Ok(r) => r,
            Err(e) => {
                // TarsCpp closes a connection whose request cannot be decoded; so do we.
                warn!(uid = conn.uid, peer = %conn.peer, error = %e, "undecodable request, closing");
                conn.close_with(CloseReason::Error(format!("undecodable request: {e}")));
                return;
            }
        };
        let received = Instant::now();
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

        let immediate = |code: i32, desc: String| {
            let frame = encode_reply(&current, code, Bytes::new(), desc);
            if let Some(frame) = frame {
                let _ = conn.send_unsolicited(frame);
            }
        };
        if request.servant_name != *self.servant_name {
            return immediate(
                protocol::SERVER_NO_SERVANT_ERR,
                format!(
                    "no servant `{}` here (this adapter serves `{}`)",
                    request.servant_name, self.servant_name
                ),
            );
        }
        if !matches!(
            current.version(),
            protocol::TARS_VERSION | protocol::TUP_VERSION
        ) {
            return immediate(
                protocol::SERVER_DECODE_ERR,
                format!(
                    "protocol version {} is not supported (only 1 TARS and 3 TUP)",
                    current.version()
                ),
            );
        }
        if current.func_name() == protocol::TARS_PING {
            return immediate(protocol::SERVER_SUCCESS, String::new());
        }
        let permits = self
            .server_in_flight
            .clone()
            .try_acquire_owned()
            .ok()
            .zip(conn.try_begin_request());
        let Some(permits) = permits else {
            debug!(uid = conn.uid, "overloaded, answering -9");
            return immediate(protocol::SERVER_OVERLOAD, "server overloaded".to_string());
        };

        let servant = self.servant.clone();
        tokio::spawn(async move {
            let _permits = permits;
            let timeout = current.timeout_ms();
            if timeout > 0 && received.elapsed() > Duration::from_millis(timeout as u64) {
                return answer(
                    &current,
                    Err(TarsError::ret(
                        protocol::SERVER_QUEUE_TIMEOUT,
                        "request waited past its timeout",
                    )),
                )
                .await;
            }
            let result = match ParamsReader::new(current.version(), buffer) {
                Ok(params) => {
                    let call = servant.dispatch(&current, current.func_name(), params);
                    AssertUnwindSafe(call)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            warn!(func = current.func_name(), "servant panicked");
                            Err(TarsError::ret(
                                protocol::SERVER_UNKNOWN_ERR,
                                "servant panicked",
                            ))
                        })
                }
                Err(e) => Err(TarsError::ret(
                    protocol::SERVER_DECODE_ERR,
                    format!("bad sBuffer: {e}"),
                )),
            };
            answer(&current, result).await;
        });
    }

    fn on_shutdown(&self, conn: &Arc<Connection>) {
        // TarsGo's graceful-shutdown notice: push clients reconnect elsewhere.
        let notice = encode_frame(&ResponsePacket {
            version: protocol::TARS_VERSION,
            result_desc: protocol::RECONNECT_DESC.to_string(),
            ..ResponsePacket::default()
        });
        let _ = conn.send_unsolicited(notice);
    }

    fn on_close(&self, current: &Current) {
        self.servant.do_close(current);
    }
}

/// Sends the response of a finished call (nothing for one-way calls).
async fn answer(current: &Current, result: TarsResult<ParamsWriter>) {
    let (code, buffer, desc) = match result {
        Ok(out) => (protocol::SERVER_SUCCESS, out.finish(), String::new()),
        Err(e) => (e.code(), Bytes::new(), e.desc()),
    };
    if let Some(frame) = encode_reply(current, code, buffer, desc) {
        if current.conn.send_response(frame).await.is_err() {
            debug!(
                uid = current.uid(),
                "connection closed before the response was sent"
            );
        }
    }
}

/// Encodes the response to `current`'s request in its version's layout: a ResponsePacket for
/// TARS, a RequestPacket with result status for TUP. `None` for one-way requests.
fn encode_reply(current: &Current, code: i32, buffer: Bytes, desc: String) -> Option<Bytes> {
    if current.is_oneway() {
        return None;
    }
    let context = current.take_response_context();
    let request = current.request.as_ref()?;
    if request.version == protocol::TUP_VERSION {
        // A TUP client expects a map in sBuffer even for errors.
        let buffer = if buffer.is_empty() {
            ParamsWriter::new(protocol::TUP_VERSION).finish()
        } else {
            buffer
        };
        let mut status = BTreeMap::new();
        if code != 0 {
            status.insert(protocol::STATUS_RESULT_CODE.to_string(), code.to_string());
        }
        if !desc.is_empty() {
            status.insert(protocol::STATUS_RESULT_DESC.to_string(), desc);
        }
        return Some(encode_frame(&RequestPacket {
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
        }));
    }
    Some(encode_frame(&ResponsePacket {
        version: request.version,
        packet_type: protocol::NORMAL_PACKET,
        request_id: request.request_id,
        message_type: request.message_type,
        ret: code,
        buffer,
        status: BTreeMap::new(),
        result_desc: desc,
        context,
    }))
}
