//! [`TarsWriter`]: appends TARS fields to a `BytesMut`, byte-exact with TarsCpp.

use super::head::TAG_IN_NEXT_BYTE;
use super::{TarsEncode, TarsType};
use bytes::{BufMut, Bytes, BytesMut};

/// Writes TARS fields into a growable buffer.
///
/// Integers are compacted to the narrowest width (and 0 to ZeroTag) as TarsCpp does;
/// floats are never compacted; strings up to 255 bytes use String1.
#[derive(Debug, Default)]
pub struct TarsWriter {
    buf: BytesMut,
}

impl TarsWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        TarsWriter {
            buf: BytesMut::with_capacity(cap),
        }
    }

    /// A writer that appends to an existing buffer (for example after a reserved length prefix).
    pub fn from_buf(buf: BytesMut) -> Self {
        TarsWriter { buf }
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The underlying buffer, to append raw bytes or patch a prefix.
    pub fn buf_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Gives back the underlying buffer.
    pub fn into_inner(self) -> BytesMut {
        self.buf
    }

    /// Freezes what was written.
    pub fn into_bytes(self) -> Bytes {
        self.buf.freeze()
    }

    /// Writes any encodable value at `tag`.
    pub fn write<T: TarsEncode + ?Sized>(&mut self, tag: u8, value: &T) {
        value.encode(self, tag);
    }

    /// Writes a field head.
    #[inline]
    pub fn write_head(&mut self, tag: u8, ty: TarsType) {
        if tag < TAG_IN_NEXT_BYTE {
            self.buf.put_u8((tag << 4) | ty as u8);
        } else {
            self.buf.put_u8((TAG_IN_NEXT_BYTE << 4) | ty as u8);
            self.buf.put_u8(tag);
        }
    }

    /// `bool` travels as a char: true = 1, false = 0 (ZeroTag).
    pub fn write_bool(&mut self, tag: u8, v: bool) {
        self.write_i8(tag, v as i8);
    }

    /// A char (`byte` in IDL).
    #[inline]
    pub fn write_i8(&mut self, tag: u8, v: i8) {
        if v == 0 {
            self.write_head(tag, TarsType::ZeroTag);
        } else {
            self.write_head(tag, TarsType::Int8);
            self.buf.put_i8(v);
        }
    }

    /// A short, compacted.
    #[inline]
    pub fn write_i16(&mut self, tag: u8, v: i16) {
        match i8::try_from(v) {
            Ok(v) => self.write_i8(tag, v),
            Err(_) => {
                self.write_head(tag, TarsType::Int16);
                self.buf.put_i16(v);
            }
        }
    }

    /// An int, compacted.
    #[inline]
    pub fn write_i32(&mut self, tag: u8, v: i32) {
        match i16::try_from(v) {
            Ok(v) => self.write_i16(tag, v),
            Err(_) => {
                self.write_head(tag, TarsType::Int32);
                self.buf.put_i32(v);
            }
        }
    }

    /// A long, compacted.
    #[inline]
    pub fn write_i64(&mut self, tag: u8, v: i64) {
        match i32::try_from(v) {
            Ok(v) => self.write_i32(tag, v),
            Err(_) => {
                self.write_head(tag, TarsType::Int64);
                self.buf.put_i64(v);
            }
        }
    }

    /// `unsigned byte` travels as a short.
    pub fn write_u8(&mut self, tag: u8, v: u8) {
        self.write_i16(tag, v as i16);
    }

    /// `unsigned short` travels as an int.
    pub fn write_u16(&mut self, tag: u8, v: u16) {
        self.write_i32(tag, v as i32);
    }

    /// `unsigned int` travels as a long.
    pub fn write_u32(&mut self, tag: u8, v: u32) {
        self.write_i64(tag, v as i64);
    }

    /// A float: always 4 bytes, never ZeroTag (as TarsCpp).
    pub fn write_f32(&mut self, tag: u8, v: f32) {
        self.write_head(tag, TarsType::Float);
        self.buf.put_f32(v);
    }

    /// A double: always 8 bytes, never ZeroTag (as TarsCpp).
    pub fn write_f64(&mut self, tag: u8, v: f64) {
        self.write_head(tag, TarsType::Double);
        self.buf.put_f64(v);
    }

    /// A string given as bytes: String1 up to 255 bytes, String4 above.
    pub fn write_string_bytes(&mut self, tag: u8, v: &[u8]) {
        if v.len() <= 255 {
            self.write_head(tag, TarsType::String1);
            self.buf.put_u8(v.len() as u8);
        } else {
            self.write_head(tag, TarsType::String4);
            self.buf.put_u32(v.len() as u32);
        }
        self.buf.put_slice(v);
    }

    /// A string.
    pub fn write_str(&mut self, tag: u8, v: &str) {
        self.write_string_bytes(tag, v.as_bytes());
    }

    /// `vector<byte>` as SimpleList: head, inner head `0x00`, length at tag 0, raw bytes.
    pub fn write_simple_list(&mut self, tag: u8, v: &[u8]) {
        self.write_head(tag, TarsType::SimpleList);
        self.write_head(0, TarsType::Int8);
        self.write_len(v.len());
        self.buf.put_slice(v);
    }

    /// The head of a list with `len` elements; the caller writes each element at tag 0.
    pub fn write_list_header(&mut self, tag: u8, len: usize) {
        self.write_head(tag, TarsType::List);
        self.write_len(len);
    }

    /// The head of a map with `len` entries; the caller writes each key at tag 0, value at tag 1.
    pub fn write_map_header(&mut self, tag: u8, len: usize) {
        self.write_head(tag, TarsType::Map);
        self.write_len(len);
    }

    /// Opens a nested struct.
    pub fn write_struct_begin(&mut self, tag: u8) {
        self.write_head(tag, TarsType::StructBegin);
    }

    /// Closes a nested struct (`0x0B`).
    pub fn write_struct_end(&mut self) {
        self.write_head(0, TarsType::StructEnd);
    }

    fn write_len(&mut self, len: usize) {
        // Lengths travel as an int32 at tag 0; the official writers cannot express more.
        let len = i32::try_from(len).expect("TARS containers hold at most i32::MAX elements");
        self.write_i32(0, len);
    }
}
