//! The hot-path decoder of a TARS (v1) response: the shape every TARS server sends for an
//! ordinary answer (the five ints, `sBuffer` as a SimpleList, an empty status, a short or no
//! description, no context) is read straight from the bytes, with `sBuffer` a slice of the
//! frame. Anything else — a status or context with entries, wider or extended heads, other
//! fields — goes to the derived [`ResponsePacket`] decoder, so the result (and every error)
//! is the derived decoder's (the tests below check that on random and mutated packets).

use super::packets::ResponsePacket;
use crate::codec::DecodeError;
use crate::TarsStruct;
use bytes::{Buf, Bytes};
use std::collections::BTreeMap;

// TARS type codes (the low nibble of a head).
const INT8: u8 = 0;
const INT16: u8 = 1;
const INT32: u8 = 2;
const STRING1: u8 = 6;
const MAP: u8 = 8;
const ZERO: u8 = 12;
const SIMPLE_LIST: u8 = 13;

/// Decodes a ResponsePacket body (after the 4-byte length).
pub fn decode_response(mut body: Bytes) -> Result<ResponsePacket, DecodeError> {
    match usual(&body) {
        Some((mut packet, range)) => {
            // The body itself becomes `sBuffer`: no second handle on the shared read buffer.
            body.truncate(range.end);
            body.advance(range.start);
            packet.buffer = body;
            Ok(packet)
        }
        None => ResponsePacket::from_tars_bytes(body),
    }
}

/// The first field of a packet body, iVersion, when it is written the usual way.
pub(crate) fn peek_version(body: &[u8]) -> Option<i16> {
    Cursor { b: body, pos: 0 }.int(1, INT16).map(|v| v as i16)
}

/// A position in a body; each read checks the head byte it expects and gives `None` (the
/// caller falls back) for anything else.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let v = self.b.get(self.pos..self.pos + N)?.try_into().ok()?;
        self.pos += N;
        Some(v)
    }

    /// The head at the cursor, if it has `tag` (a tag below 15, in one byte).
    fn head(&self, tag: u8) -> Option<u8> {
        let h = *self.b.get(self.pos)?;
        (h >> 4 == tag).then_some(h & 0x0F)
    }

    /// An integer at `tag`, written no wider than `widest` (as the derived decoder accepts).
    fn int(&mut self, tag: u8, widest: u8) -> Option<i64> {
        let ty = self.head(tag)?;
        if ty != ZERO && ty > widest {
            return None;
        }
        self.pos += 1;
        Some(match ty {
            ZERO => 0,
            INT8 => i8::from_be_bytes(self.array()?) as i64,
            INT16 => i16::from_be_bytes(self.array()?) as i64,
            INT32 => i32::from_be_bytes(self.array()?) as i64,
            _ => return None,
        })
    }

    /// A map at `tag` with no entries.
    fn empty_map(&mut self, tag: u8) -> Option<BTreeMap<String, String>> {
        if self.head(tag)? != MAP {
            return None;
        }
        self.pos += 1;
        (self.int(0, INT32)? == 0).then(BTreeMap::new)
    }

    fn at_end(&self) -> bool {
        self.pos == self.b.len()
    }
}

/// The packet read the usual way, with an empty `buffer` and where `sBuffer` lies in `body`.
fn usual(body: &[u8]) -> Option<(ResponsePacket, std::ops::Range<usize>)> {
    let mut c = Cursor { b: body, pos: 0 };
    let version = c.int(1, INT16)? as i16;
    let packet_type = c.int(2, INT8)? as i8;
    let request_id = c.int(3, INT32)? as i32;
    let message_type = c.int(4, INT32)? as i32;
    let ret = c.int(5, INT32)? as i32;
    if c.head(6)? != SIMPLE_LIST {
        return None;
    }
    c.pos += 1;
    if c.byte()? != INT8 {
        return None;
    }
    let len = usize::try_from(c.int(0, INT32)?).ok()?;
    let start = c.pos;
    let end = start.checked_add(len).filter(|&end| end <= body.len())?;
    c.pos = end;
    let status = c.empty_map(7)?;
    let mut result_desc = String::new();
    if !c.at_end() && c.head(8).is_some() {
        if c.head(8)? != STRING1 {
            return None;
        }
        c.pos += 1;
        let n = c.byte()? as usize;
        let text = c.b.get(c.pos..c.pos + n)?;
        result_desc = std::str::from_utf8(text).ok()?.to_owned();
        c.pos += n;
    }
    let context = if c.at_end() {
        BTreeMap::new()
    } else {
        c.empty_map(9)?
    };
    if !c.at_end() {
        return None;
    }
    let packet = ResponsePacket {
        version,
        packet_type,
        request_id,
        message_type,
        ret,
        buffer: Bytes::new(),
        status,
        result_desc,
        context,
    };
    Some((packet, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packet() -> impl Strategy<Value = ResponsePacket> {
        let map = prop::collection::btree_map("[a-z]{0,4}", "[a-z]{0,4}", 0..3);
        (
            (
                any::<i16>(),
                any::<i8>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
            ),
            prop::collection::vec(any::<u8>(), 0..300),
            prop_oneof![Just(BTreeMap::new()), map.clone()],
            prop_oneof![Just(String::new()), ".{0,10}", "x{250,300}"],
            prop_oneof![Just(BTreeMap::new()), map],
        )
            .prop_map(
                |(
                    (version, packet_type, request_id, message_type, ret),
                    buffer,
                    status,
                    result_desc,
                    context,
                )| {
                    ResponsePacket {
                        version,
                        packet_type,
                        request_id,
                        message_type,
                        ret,
                        buffer: buffer.into(),
                        status,
                        result_desc,
                        context,
                    }
                },
            )
    }

    /// What the fast path accepts, the derived decoder decodes to the same packet.
    fn agrees(bytes: &[u8]) {
        let body = Bytes::copy_from_slice(bytes);
        if usual(&body).is_some() {
            let fast = decode_response(body.clone());
            assert_eq!(fast, ResponsePacket::from_tars_bytes(body));
        }
    }

    proptest! {
        #[test]
        fn decodes_every_packet_as_the_derived_decoder(p in packet()) {
            let bytes = p.to_tars_bytes();
            prop_assert_eq!(decode_response(bytes.clone()).unwrap(), p.clone());
            agrees(&bytes);
        }

        #[test]
        fn agrees_with_the_derived_decoder_on_mutated_bytes(
            p in packet(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = p.to_tars_bytes().to_vec();
            for (at, v) in flips {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            agrees(&bytes);
            agrees(&bytes[..cut.index(bytes.len() + 1)]);
        }
    }

    #[test]
    fn the_usual_answer_takes_the_fast_path() {
        let p = ResponsePacket {
            version: 1,
            request_id: 7,
            buffer: Bytes::from_static(b"\x0c\x16\x02hi"),
            ..Default::default()
        };
        let bytes = p.to_tars_bytes();
        let (mut fast, range) = usual(&bytes).expect("the usual shape");
        fast.buffer = bytes.slice(range);
        assert_eq!(fast, p);
        assert_eq!(peek_version(&bytes), Some(1));
    }
}
