//! `rpc --raw`: the TARS encoding of the pipelined client. `testHello` requests are encoded
//! once and only their request id is patched; responses are split by reading just the head
//! fields of each `ResponsePacket` (the first one of a connection is decoded in full).

use crate::pipeline::Wire;
use bytes::BytesMut;
use std::collections::BTreeMap;
use std::sync::Arc;
use tars_core::prelude::*;
use tars_core::protocol::{encode_frame, ParamsReader, RequestPacket, ResponsePacket};

/// Ids of raw requests: 0x01000000 + (seq mod 2^24), always encoded as 4-byte ints, so the
/// pre-encoded frame keeps its length.
const RAW_ID_BASE: u32 = 0x0100_0000;
const RAW_ID_MASK: u32 = 0x00FF_FFFF;

/// TARS `testHello` requests, pre-encoded once; only the request id is patched in place.
#[derive(Clone)]
pub struct TarsWire {
    template: Arc<Vec<u8>>,
    id_offset: usize,
    payload: usize,
}

fn test_hello_request(object: &str, request_id: i32, payload: &str) -> RequestPacket {
    let mut params = tars_core::protocol::ParamsWriter::new(tars_core::protocol::TARS_VERSION);
    params.write(1, "sReq", payload);
    RequestPacket {
        version: tars_core::protocol::TARS_VERSION,
        packet_type: tars_core::protocol::NORMAL_PACKET,
        message_type: 0,
        request_id,
        servant_name: object.into(),
        func_name: "testHello".into(),
        buffer: params.finish(),
        timeout: 60_000,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    }
}

impl TarsWire {
    /// Requests to servant `object` carrying `payload` bytes.
    pub fn new(object: &str, payload: usize) -> Self {
        let body = "x".repeat(payload);
        let a = encode_frame(&test_hello_request(object, RAW_ID_BASE as i32, &body));
        let b = encode_frame(&test_hello_request(
            object,
            (RAW_ID_BASE | RAW_ID_MASK) as i32,
            &body,
        ));
        assert_eq!(a.len(), b.len(), "request ids of one width");
        // The id is the only difference between the two encodings.
        let first = a
            .iter()
            .zip(b.iter())
            .position(|(x, y)| x != y)
            .expect("ids differ");
        let id_offset = first - 1; // 0x01FFFFFF vs 0x01000000: the first byte (0x01) is shared
        assert_eq!(&a[id_offset..id_offset + 4], &RAW_ID_BASE.to_be_bytes());
        TarsWire {
            template: Arc::new(a.to_vec()),
            id_offset,
            payload,
        }
    }
}

/// Reads an integer field with tag `tag` at `pos` (the head and a payload of 0-8 bytes).
fn read_int_field(buf: &[u8], pos: &mut usize, tag: u8) -> Option<i64> {
    let head = *buf.get(*pos)?;
    *pos += 1;
    let mut t = head >> 4;
    if t == 15 {
        t = *buf.get(*pos)?;
        *pos += 1;
    }
    if t != tag {
        return None;
    }
    let width = match head & 0x0F {
        12 => return Some(0),
        0 => 1,
        1 => 2,
        2 => 4,
        3 => 8,
        _ => return None,
    };
    let bytes = buf.get(*pos..*pos + width)?;
    *pos += width;
    Some(match width {
        1 => bytes[0] as i8 as i64,
        2 => i16::from_be_bytes([bytes[0], bytes[1]]) as i64,
        4 => i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
        _ => i64::from_be_bytes(bytes.try_into().ok()?),
    })
}

fn frame_len(buf: &[u8], includes_header: bool) -> Result<Option<usize>, String> {
    let Some(h) = buf.get(..4) else {
        return Ok(None);
    };
    let raw = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let total = if includes_header { raw } else { raw + 4 };
    if !(5..=100 << 20).contains(&total) {
        return Err(format!("bad frame length {raw}"));
    }
    Ok((buf.len() >= total).then_some(total))
}

impl Wire for TarsWire {
    fn write_request(&self, seq: u32, out: &mut BytesMut) {
        let at = out.len() + self.id_offset;
        out.extend_from_slice(&self.template);
        out[at..at + 4].copy_from_slice(&(RAW_ID_BASE | (seq & RAW_ID_MASK)).to_be_bytes());
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<(usize, Option<u32>)>, String> {
        let Some(total) = frame_len(buf, true)? else {
            return Ok(None);
        };
        let body = &buf[4..total];
        let mut pos = 0;
        let fields = (|| {
            let version = read_int_field(body, &mut pos, 1)?;
            let packet_type = read_int_field(body, &mut pos, 2)?;
            let id = read_int_field(body, &mut pos, 3)?;
            let _message_type = read_int_field(body, &mut pos, 4)?;
            let ret = read_int_field(body, &mut pos, 5)?;
            Some((version, packet_type, id, ret))
        })();
        match fields {
            Some((1, 0, id, 0)) => Ok(Some((total, Some((id as u32).wrapping_sub(RAW_ID_BASE))))),
            Some((_, _, id, ret)) => Err(format!("response to {id} failed: iRet {ret}")),
            None => Err("undecodable response".into()),
        }
    }

    fn verify(&self, frame: &[u8]) -> Result<(), String> {
        let response = ResponsePacket::from_tars_bytes(bytes::Bytes::copy_from_slice(&frame[4..]))
            .map_err(|e| e.to_string())?;
        let mut params =
            ParamsReader::new(response.version, response.buffer).map_err(|e| e.to_string())?;
        let ret: i32 = params.read_ret().map_err(|e| e.to_string())?;
        let rsp: String = params.read(2, "sRsp").map_err(|e| e.to_string())?;
        if ret != 0 || rsp.len() != self.payload || rsp.bytes().any(|b| b != b'x') {
            return Err(format!(
                "testHello answered ret {ret} with {} bytes",
                rsp.len()
            ));
        }
        Ok(())
    }
}
