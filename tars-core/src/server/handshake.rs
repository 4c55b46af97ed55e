//! Connection setup before the driver starts: the TLS handshake of `ssl` endpoints and the
//! AK/SK exchange of `-e 1` endpoints. Each is bounded by the server's `handshake_timeout`;
//! a failure closes that connection with a log line that says why.

use super::current::{CloseReason, Connection};
use crate::auth::{self, AuthKey, AuthState};
use crate::protocol::{encode_frame_into, LengthPrefix, RequestPacket, ResponsePacket};
use crate::tls::ServerTls;
use crate::TarsStruct;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

/// What a new connection goes through before it is served.
#[derive(Clone, Default)]
pub(crate) struct Setup {
    /// TLS on `ssl` endpoints.
    pub(crate) tls: Option<ServerTls>,
    /// `-e 1`: the servant name packages must carry, and the adapter's key (none: every
    /// package is refused with `AUTH_WRONG_AK`, as TarsCpp).
    pub(crate) auth: Option<(Arc<str>, Option<AuthKey>)>,
    /// Longest each step may take.
    pub(crate) timeout: Duration,
    /// The adapter's frame limit (the auth request is a frame).
    pub(crate) max_frame_len: usize,
}

/// Runs the TLS handshake. Errors (a peer that speaks plain TCP, an unknown CA, a missing
/// client certificate) close the connection with a warning.
pub(crate) async fn accept_tls(
    tls: &ServerTls,
    stream: TcpStream,
    conn: &Connection,
    setup: &Setup,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, CloseReason> {
    let accepted = tokio::time::timeout(setup.timeout, tls.acceptor().accept(stream)).await;
    let why = match accepted {
        Ok(Ok(stream)) => {
            debug!("tls handshake done");
            return Ok(stream);
        }
        Ok(Err(e)) => format!("tls handshake failed: {e}"),
        Err(_) => format!(
            "tls handshake timed out after {} ms",
            setup.timeout.as_millis()
        ),
    };
    warn!(uid = conn.uid, peer = %conn.peer, servant = %conn.servant_name, "{why}");
    Err(CloseReason::Error(why))
}

/// On `-e 1` endpoints, reads the first frame, checks it as an auth request and answers
/// `AUTH_SUCC`, or refuses (closes). Returns the bytes read past that frame, which the driver
/// handles first. Without auth, returns nothing at once.
pub(crate) async fn authenticate<S>(
    stream: &mut S,
    conn: &Connection,
    setup: &Setup,
) -> Result<BytesMut, CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some((servant, key)) = &setup.auth else {
        return Ok(BytesMut::new());
    };
    let refuse = |why: String| {
        warn!(uid = conn.uid, peer = %conn.peer, servant = %servant, "auth refused: {why}");
        CloseReason::Error(format!("auth refused: {why}"))
    };
    let framing = LengthPrefix::tars(setup.max_frame_len);
    let mut buf = BytesMut::new();
    let read_first = async {
        loop {
            match framing.split_frame(&mut buf) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
            buf.reserve(4096);
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Err("the peer closed before authenticating".to_string()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let frame = match tokio::time::timeout(setup.timeout, read_first).await {
        Ok(Ok(frame)) => frame,
        Ok(Err(why)) => return Err(refuse(why)),
        Err(_) => {
            return Err(refuse(format!(
                "no auth request within {} ms",
                setup.timeout.as_millis()
            )))
        }
    };
    let request = RequestPacket::from_tars_bytes(crate::protocol::frame_body(frame))
        .map_err(|e| refuse(format!("the first frame is not a request: {e}")))?;
    let state = auth::verify(&request.buffer, servant, key.as_ref(), auth::unix_now());
    if state != AuthState::Succ {
        return Err(refuse(format!(
            "{state} (request `{}` of `{}`, message type {:#x})",
            request.func_name, request.servant_name, request.message_type
        )));
    }
    let response = ResponsePacket {
        version: request.version,
        packet_type: request.packet_type,
        request_id: request.request_id,
        message_type: request.message_type,
        ret: 0,
        buffer: Bytes::from_static(AuthState::Succ.name().as_bytes()),
        status: Default::default(),
        result_desc: String::new(),
        context: Default::default(),
    };
    let mut out = BytesMut::new();
    encode_frame_into(&response, &mut out);
    let written = tokio::time::timeout(setup.timeout, async {
        stream.write_all(&out).await?;
        stream.flush().await
    })
    .await;
    match written {
        Ok(Ok(())) => {
            debug!("authenticated");
            Ok(buf)
        }
        Ok(Err(e)) => Err(CloseReason::Error(format!("auth response: {e}"))),
        Err(_) => Err(CloseReason::WriteStalled),
    }
}
