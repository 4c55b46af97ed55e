//! Connection setup on the client: TLS on `ssl` endpoints, then the AK/SK request on `-e 1`
//! endpoints. Calls made meanwhile wait for the connection (they are queued behind its
//! connect); a refusal fails them with the reason.

use crate::auth::{self, AuthKey, AuthState, AUTH_FUNC, AUTH_MESSAGE_TYPE};
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use crate::protocol::{encode_frame, RequestPacket, ResponsePacket, TARS_VERSION};
use crate::TarsStruct;
use bytes::BytesMut;
use std::collections::BTreeMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Sends the auth request for `obj` and waits for `AUTH_SUCC`.
pub(crate) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    endpoint: &Endpoint,
    obj: &str,
    key: Option<&AuthKey>,
) -> TarsResult<()> {
    let refused = |reason: String| TarsError::Connect {
        endpoint: endpoint.to_string(),
        reason: format!("auth refused: {reason}"),
    };
    let key = key.ok_or_else(|| {
        refused(format!(
            "`{endpoint}` needs AK/SK (-e 1) and no access key is set for `{obj}`"
        ))
    })?;
    let request = RequestPacket {
        version: TARS_VERSION,
        packet_type: 0,
        message_type: AUTH_MESSAGE_TYPE,
        request_id: 1,
        servant_name: obj.to_string(),
        func_name: AUTH_FUNC.to_string(),
        buffer: key.package(obj, auth::unix_now()).to_tars_bytes(),
        timeout: 0,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    };
    let closed = |e: std::io::Error| {
        refused(format!(
            "the server closed the connection ({e}): wrong key, clock skew over an hour, or no key on the server"
        ))
    };
    stream
        .write_all(&encode_frame(&request))
        .await
        .map_err(closed)?;
    stream.flush().await.map_err(closed)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(closed)?;
    let len = u32::from_be_bytes(len) as usize;
    if !(5..=64 * 1024).contains(&len) {
        return Err(refused(format!("bad auth response length {len}")));
    }
    let mut body = BytesMut::zeroed(len - 4);
    stream.read_exact(&mut body).await.map_err(closed)?;
    let response = ResponsePacket::from_tars_bytes(body.freeze())
        .map_err(|e| refused(format!("undecodable auth response: {e}")))?;
    if response
        .buffer
        .eq_ignore_ascii_case(AuthState::Succ.name().as_bytes())
    {
        Ok(())
    } else {
        Err(refused(format!(
            "the server answered `{}`",
            String::from_utf8_lossy(&response.buffer)
        )))
    }
}
