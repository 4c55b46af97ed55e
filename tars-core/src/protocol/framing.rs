//! The 4-byte big-endian length framing of TARS (and of many third-party protocols).

use crate::{TarsStruct, TarsWriter};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// A frame whose length field is out of bounds; the connection cannot continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length field claims less than the header itself.
    #[error("frame length {len} is below the minimum of {min}")]
    TooShort {
        /// The claimed length.
        len: u64,
        /// The smallest acceptable length.
        min: usize,
    },
    /// The length field claims more than the configured maximum.
    #[error("frame length {len} exceeds the maximum of {max}")]
    TooLong {
        /// The claimed length.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
}

/// Frames that start with a 4-byte big-endian length.
///
/// TARS frames count the header in the length (`includes_header: true`); a frame must hold at
/// least the header plus `min_body` bytes and at most `max_frame` bytes in all. The length is
/// checked before any byte of the body is buffered, so a hostile length costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthPrefix {
    /// Whether the length counts its own 4 bytes.
    pub includes_header: bool,
    /// Smallest body accepted (bytes after the header).
    pub min_body: usize,
    /// Largest whole frame accepted, header included.
    pub max_frame: usize,
}

/// Size of the length header.
pub(super) const HEADER: usize = 4;
/// Most buffer space reserved ahead for a frame still arriving.
const RESERVE_AHEAD: usize = 64 * 1024;

impl LengthPrefix {
    /// TARS framing: length includes the header, body at least 1 byte, at most `max_frame`.
    pub const fn tars(max_frame: usize) -> Self {
        LengthPrefix {
            includes_header: true,
            min_body: 1,
            max_frame,
        }
    }

    /// The total length of the frame at the start of `buf`, if its header is complete.
    pub fn frame_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(header) = buf.get(..HEADER) else {
            return Ok(None);
        };
        let raw = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let total = if self.includes_header {
            raw
        } else {
            raw + HEADER as u64
        };
        let min = HEADER + self.min_body;
        if total < min as u64 {
            return Err(FrameError::TooShort { len: raw, min });
        }
        if total > self.max_frame as u64 {
            return Err(FrameError::TooLong {
                len: raw,
                max: self.max_frame,
            });
        }
        Ok(Some(total as usize))
    }

    /// Splits one whole frame, header included, off the front of `buf`: `Ok(None)` while more
    /// bytes are needed.
    pub fn split_frame(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.frame_len(buf)? {
            Some(total) if buf.len() >= total => Ok(Some(buf.split_to(total).freeze())),
            Some(total) => {
                // Room for the rest of the frame, but never more than a read's worth ahead:
                // a peer announcing a large frame must send it before it costs memory.
                buf.reserve((total - buf.len()).min(RESERVE_AHEAD));
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Appends `body` with its length header to `out`.
    pub fn encode(&self, body: &[u8], out: &mut BytesMut) {
        let len = if self.includes_header {
            body.len() + HEADER
        } else {
            body.len()
        };
        out.put_u32(len as u32);
        out.put_slice(body);
    }
}

/// Encodes a top-level TARS struct (a packet) as one frame: 4-byte length, then the fields.
pub fn encode_frame<T: TarsStruct>(packet: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    encode_frame_into(packet, &mut buf);
    buf.freeze()
}

/// Appends a framed TARS struct to `buf`.
pub fn encode_frame_into<T: TarsStruct>(packet: &T, buf: &mut BytesMut) {
    let start = buf.len();
    buf.put_u32(0);
    let mut w = TarsWriter::from_buf(std::mem::take(buf));
    packet.write_fields(&mut w);
    *buf = w.into_inner();
    let len = (buf.len() - start) as u32;
    buf[start..start + HEADER].copy_from_slice(&len.to_be_bytes());
}

/// The body of a TARS frame (the frame without its length header): the frame's own
/// handle, advanced, so no second handle on the bytes it shares is taken.
pub fn frame_body(mut frame: Bytes) -> Bytes {
    frame.advance(HEADER.min(frame.len()));
    frame
}
