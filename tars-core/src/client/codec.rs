//! How a client connection splits and decodes what the server sends: TARS and TUP
//! responses by default, or a user's decoder for a third-party protocol.

use crate::protocol::{
    decode_response, frame_body, peek_version, LengthPrefix, RequestPacket, ResponsePacket,
    STATUS_RESULT_CODE, STATUS_RESULT_DESC, TUP_VERSION,
};
use crate::{TarsReader, TarsStruct};
use bytes::BytesMut;

/// Splits one response off a client connection's input and decodes it.
///
/// The result's `request_id` says which call it answers; 0 means a push. For third-party
/// protocols, fill at least `request_id` and `buffer`.
pub trait ResponseDecoder: Send + Sync + 'static {
    /// `Ok(None)`: more bytes are needed. An error or a panic closes the connection (and
    /// fails its calls at once; the next call reconnects).
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<ResponsePacket>, String>;
}

/// The TARS decoder: a length-prefixed ResponsePacket, or a TUP response (a RequestPacket
/// with the result in its status), normalised to a [`ResponsePacket`].
#[derive(Debug, Clone, Copy)]
pub struct TarsResponseDecoder {
    framing: LengthPrefix,
}

impl TarsResponseDecoder {
    /// Accepts frames up to `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        TarsResponseDecoder {
            framing: LengthPrefix::tars(max_frame_len),
        }
    }
}

impl ResponseDecoder for TarsResponseDecoder {
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<ResponsePacket>, String> {
        let Some(frame) = self.framing.split_frame(buf).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let body = frame_body(frame);
        let version = match peek_version(&body) {
            Some(version) => version,
            None => TarsReader::new(body.clone())
                .read(1)
                .map_err(|e| format!("bad response: {e}"))?,
        };
        if version != TUP_VERSION {
            return decode_response(body)
                .map(Some)
                .map_err(|e| format!("bad response: {e}"));
        }
        let mut tup =
            RequestPacket::from_tars_bytes(body).map_err(|e| format!("bad TUP response: {e}"))?;
        let ret = tup
            .status
            .get(STATUS_RESULT_CODE)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let result_desc = tup.status.remove(STATUS_RESULT_DESC).unwrap_or_default();
        Ok(Some(ResponsePacket {
            version: tup.version,
            packet_type: tup.packet_type,
            request_id: tup.request_id,
            message_type: tup.message_type,
            ret,
            buffer: tup.buffer,
            status: tup.status,
            result_desc,
            context: tup.context,
        }))
    }
}
