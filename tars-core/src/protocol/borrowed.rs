//! The hot-path forms of the two packets: a request written from borrowed parts (no
//! `RequestPacket`, no copied names or maps), a response written from a borrowed
//! `sBuffer`, and a request head decoded without copying the servant name. Each writes or
//! reads exactly the fields, in exactly the layout, of the derived [`RequestPacket`] and
//! [`ResponsePacket`] codecs (the tests below compare them byte for byte).
//!
//! [`RequestPacket`]: super::RequestPacket
//! [`ResponsePacket`]: super::ResponsePacket

use super::framing::HEADER;
use crate::codec::{DecodeError, DecodeErrorKind};
use crate::{TarsEncode, TarsReader, TarsWriter};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;

/// A request's fields, borrowed from whoever holds them.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// iVersion.
    pub version: i16,
    /// cPacketType.
    pub packet_type: i8,
    /// iMessageType.
    pub message_type: i32,
    /// iRequestId.
    pub request_id: i32,
    /// sServantName.
    pub servant_name: &'a str,
    /// sFuncName.
    pub func_name: &'a str,
    /// sBuffer.
    pub buffer: &'a [u8],
    /// iTimeout.
    pub timeout: i32,
    /// context (`None`: empty).
    pub context: Option<&'a BTreeMap<String, String>>,
    /// status (`None`: empty).
    pub status: Option<&'a BTreeMap<String, String>>,
}

/// Runs `write` on a [`TarsWriter`] over `buf`, framed: 4-byte length, then the fields.
fn framed(buf: &mut BytesMut, write: impl FnOnce(&mut TarsWriter)) {
    let start = buf.len();
    buf.put_u32(0);
    let mut w = TarsWriter::from_buf(std::mem::take(buf));
    write(&mut w);
    *buf = w.into_inner();
    let len = (buf.len() - start) as u32;
    buf[start..start + HEADER].copy_from_slice(&len.to_be_bytes());
}

/// Appends the framed RequestPacket of `parts` to `buf`.
pub fn encode_request_into(parts: &RequestParts<'_>, buf: &mut BytesMut) {
    framed(buf, |w| {
        parts.version.encode(w, 1);
        parts.packet_type.encode(w, 2);
        parts.message_type.encode(w, 3);
        parts.request_id.encode(w, 4);
        w.write_str(5, parts.servant_name);
        w.write_str(6, parts.func_name);
        w.write_simple_list(7, parts.buffer);
        parts.timeout.encode(w, 8);
        write_map_or_empty(w, 9, parts.context);
        write_map_or_empty(w, 10, parts.status);
    });
}

/// A map field; the usual empty one is its head alone.
fn write_map_or_empty(w: &mut TarsWriter, tag: u8, map: Option<&BTreeMap<String, String>>) {
    match map {
        Some(map) if !map.is_empty() => map.encode(w, tag),
        _ => w.write_map_header(tag, 0),
    }
}

/// Appends the framed TARS ResponsePacket (empty status) answering a request to `buf`.
pub fn encode_response_into(
    head: (i16, i32, i32),
    ret: i32,
    buffer: &[u8],
    desc: &str,
    context: &BTreeMap<String, String>,
    buf: &mut BytesMut,
) {
    let (version, request_id, message_type) = head;
    framed(buf, |w| {
        version.encode(w, 1);
        0i8.encode(w, 2);
        request_id.encode(w, 3);
        message_type.encode(w, 4);
        ret.encode(w, 5);
        w.write_simple_list(6, buffer);
        write_map_or_empty(w, 7, None);
        if !desc.is_empty() {
            w.write_str(8, desc);
        }
        if !context.is_empty() {
            context.encode(w, 9);
        }
    });
}

/// A decoded request whose servant name is left as the frame's bytes (checked UTF-8), so
/// it can be compared without a copy.
#[derive(Debug)]
pub struct RequestHead {
    /// iVersion.
    pub version: i16,
    /// cPacketType.
    pub packet_type: i8,
    /// iMessageType.
    pub message_type: i32,
    /// iRequestId.
    pub request_id: i32,
    /// sServantName, as it is in the frame.
    pub servant_name: Bytes,
    /// sFuncName.
    pub func_name: String,
    /// sBuffer.
    pub buffer: Bytes,
    /// iTimeout.
    pub timeout: i32,
    /// context.
    pub context: BTreeMap<String, String>,
    /// status.
    pub status: BTreeMap<String, String>,
}

impl RequestHead {
    /// Decodes a RequestPacket body (the frame without its length), with the errors of
    /// `RequestPacket::from_tars_bytes`.
    pub fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let class = "tars.RequestPacket";
        let r = &mut TarsReader::new(body);
        let version = r.read(1).map_err(|e| e.in_field(class, "version", 1))?;
        let packet_type = r.read(2).map_err(|e| e.in_field(class, "packet_type", 2))?;
        let message_type = r
            .read(3)
            .map_err(|e| e.in_field(class, "message_type", 3))?;
        let request_id = r.read(4).map_err(|e| e.in_field(class, "request_id", 4))?;
        let servant_name =
            read_str_bytes(r, 5).map_err(|e| e.in_field(class, "servant_name", 5))?;
        Ok(RequestHead {
            version,
            packet_type,
            message_type,
            request_id,
            servant_name,
            func_name: r.read(6).map_err(|e| e.in_field(class, "func_name", 6))?,
            buffer: r.read(7).map_err(|e| e.in_field(class, "buffer", 7))?,
            timeout: r.read(8).map_err(|e| e.in_field(class, "timeout", 8))?,
            context: r.read(9).map_err(|e| e.in_field(class, "context", 9))?,
            status: r.read(10).map_err(|e| e.in_field(class, "status", 10))?,
        })
    }

    /// The servant name (valid UTF-8, checked when decoded).
    pub fn servant_name_str(&self) -> &str {
        std::str::from_utf8(&self.servant_name).unwrap_or_default()
    }
}

/// A required string field at `tag` as its bytes, after checking they are UTF-8.
fn read_str_bytes(r: &mut TarsReader, tag: u8) -> Result<Bytes, DecodeError> {
    let Some(ty) = r.skip_to_tag(tag)? else {
        return Err(r.error(DecodeErrorKind::RequiredFieldMissing).at_tag(tag));
    };
    let start = r.position();
    let raw = r.read_string_payload(ty).map_err(|e| e.at_tag(tag))?;
    if std::str::from_utf8(&raw).is_err() {
        return Err(DecodeError::new(DecodeErrorKind::InvalidUtf8, start).at_tag(tag));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode_frame, frame_body, RequestPacket, ResponsePacket};
    use crate::TarsStruct;

    fn maps() -> Vec<BTreeMap<String, String>> {
        let one = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let two = BTreeMap::from([("a".into(), "1".into()), ("b".into(), "x".repeat(300))]);
        vec![BTreeMap::new(), one, two]
    }

    #[test]
    fn requests_match_the_derived_codec() {
        let long = "S".repeat(300);
        for (i, map) in maps().into_iter().enumerate() {
            for id in [1, 127, 40_000, -5, i32::MAX] {
                let packet = RequestPacket {
                    version: [1, 3, 300][i],
                    packet_type: (i % 2) as i8,
                    message_type: [0, 7, 1 << 20][i],
                    request_id: id,
                    servant_name: if i == 2 {
                        long.clone()
                    } else {
                        "A.B.Obj".into()
                    },
                    func_name: "sayHello".into(),
                    buffer: Bytes::from(vec![9u8; [0, 10, 70_000][i]]),
                    timeout: [0, 3000, 100_000][i],
                    context: map.clone(),
                    status: maps()[2 - i].clone(),
                };
                let mut ours = BytesMut::from(&b"prefix"[..]);
                encode_request_into(
                    &RequestParts {
                        version: packet.version,
                        packet_type: packet.packet_type,
                        message_type: packet.message_type,
                        request_id: packet.request_id,
                        servant_name: &packet.servant_name,
                        func_name: &packet.func_name,
                        buffer: &packet.buffer,
                        timeout: packet.timeout,
                        context: (!packet.context.is_empty()).then_some(&packet.context),
                        status: Some(&packet.status),
                    },
                    &mut ours,
                );
                assert_eq!(&ours[6..], &encode_frame(&packet)[..]);
                let frame = Bytes::copy_from_slice(&ours[6..]);
                let head = RequestHead::decode(frame_body(frame)).unwrap();
                assert_eq!(head.servant_name_str(), packet.servant_name);
                assert_eq!(head.func_name, packet.func_name);
                assert_eq!(head.buffer, packet.buffer);
                assert_eq!((head.version, head.request_id), (packet.version, id));
                assert_eq!((head.context, head.status), (packet.context, packet.status));
            }
        }
    }

    #[test]
    fn responses_match_the_derived_codec() {
        for (i, context) in maps().into_iter().enumerate() {
            for desc in ["", "boom"] {
                let packet = ResponsePacket {
                    version: [1, 1, 2][i],
                    request_id: [1, 70_000, -1][i],
                    message_type: [0, 1, 9][i],
                    ret: [0, -99, 12345][i],
                    buffer: Bytes::from(vec![1u8; [0, 5, 1000][i]]),
                    result_desc: desc.into(),
                    context: context.clone(),
                    ..ResponsePacket::default()
                };
                let mut ours = BytesMut::new();
                let head = (packet.version, packet.request_id, packet.message_type);
                encode_response_into(head, packet.ret, &packet.buffer, desc, &context, &mut ours);
                assert_eq!(&ours[..], &encode_frame(&packet)[..]);
            }
        }
    }

    #[test]
    fn a_bad_head_fails_as_the_derived_decoder_does() {
        let good = RequestPacket {
            servant_name: "A.B.Obj".into(),
            ..RequestPacket::default()
        };
        let mut bytes = good.to_tars_bytes().to_vec();
        // Corrupt the servant name into invalid UTF-8.
        let at = bytes.windows(7).position(|w| w == b"A.B.Obj").unwrap();
        bytes[at] = 0xFF;
        let ours = RequestHead::decode(Bytes::from(bytes.clone())).unwrap_err();
        let derived = RequestPacket::from_tars_bytes(bytes).unwrap_err();
        assert_eq!(ours.to_string(), derived.to_string());
        let missing = RequestHead::decode(Bytes::from_static(&[0x10, 0x01])).unwrap_err();
        let derived =
            RequestPacket::from_tars_bytes(Bytes::from_static(&[0x10, 0x01])).unwrap_err();
        assert_eq!(missing.to_string(), derived.to_string());
    }
}
