//! [`TarsReader`]: reads TARS fields from a `Bytes` buffer, never panicking and never
//! allocating more than the input can justify.

use super::error::{DecodeError, DecodeErrorKind};
use super::head::TAG_IN_NEXT_BYTE;
use super::{TarsDecode, TarsType, MAX_DEPTH};
use bytes::Bytes;

/// Most bytes a decoder reserves up front for a list or map whose element count came off the
/// wire. See [`TarsReader::cautious_capacity`].
const PREALLOC_BUDGET: usize = 64 * 1024;

/// A decoded field head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The field tag.
    pub tag: u8,
    /// The wire type.
    pub ty: TarsType,
    /// Bytes the head itself takes (1 or 2).
    pub len: usize,
}

/// Reads TARS fields from a buffer, front to back.
///
/// Fields are located by tag as TarsCpp does: lower tags are skipped, a higher tag or a
/// StructEnd means "absent". Zero-copy for `Bytes` fields.
#[derive(Debug, Clone)]
pub struct TarsReader {
    buf: Bytes,
    pos: usize,
    depth: usize,
}

impl TarsReader {
    /// A reader over `buf`.
    pub fn new(buf: Bytes) -> Self {
        TarsReader {
            buf,
            pos: 0,
            depth: 0,
        }
    }

    /// A reader over a copy of `buf`.
    pub fn from_slice(buf: &[u8]) -> Self {
        Self::new(Bytes::copy_from_slice(buf))
    }

    /// Current byte offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The capacity to reserve for `n` elements of `T` whose count was just read: `n`, but
    /// no more than [`PREALLOC_BUDGET`] (64 KiB) nor the bytes left in the input hold.
    ///
    /// The count is only known to fit the bytes left at one byte or so per element, and an
    /// element can be far larger in memory than on the wire (an empty struct takes 2 bytes
    /// there), so a collection starts at most this big and grows as its elements really
    /// decode: a hostile count costs a bounded reservation, never `n × size_of::<T>()`.
    pub(crate) fn cautious_capacity<T>(&self, n: usize) -> usize {
        let budget = PREALLOC_BUDGET.min(self.remaining());
        n.min(budget / std::mem::size_of::<T>().max(1))
    }

    /// An error of `kind` at the current offset.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    /// Reads a required field at `tag`.
    pub fn read<T: TarsDecode>(&mut self, tag: u8) -> Result<T, DecodeError> {
        match self.read_optional(tag)? {
            Some(v) => Ok(v),
            None => Err(self
                .error(DecodeErrorKind::RequiredFieldMissing)
                .at_tag(tag)),
        }
    }

    /// Reads an optional field at `tag`: `None` when absent.
    pub fn read_optional<T: TarsDecode>(&mut self, tag: u8) -> Result<Option<T>, DecodeError> {
        match self.skip_to_tag(tag)? {
            Some(ty) => T::decode_payload(self, ty)
                .map(Some)
                .map_err(|e| e.at_tag(tag)),
            None => Ok(None),
        }
    }

    /// Peeks at the next head without consuming it; `None` at end of input.
    pub fn peek_head(&self) -> Result<Option<Head>, DecodeError> {
        let Some(&first) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        let ty = TarsType::from_u8(first & 0x0F)
            .ok_or_else(|| self.error(DecodeErrorKind::InvalidType(first & 0x0F)))?;
        let tag = first >> 4;
        if tag == TAG_IN_NEXT_BYTE {
            let Some(&tag) = self.buf.get(self.pos + 1) else {
                return Err(self.error(DecodeErrorKind::UnexpectedEof { needed: 1 }));
            };
            Ok(Some(Head { tag, ty, len: 2 }))
        } else {
            Ok(Some(Head { tag, ty, len: 1 }))
        }
    }

    /// Reads the next head; end of input is an error.
    pub fn read_head(&mut self) -> Result<Head, DecodeError> {
        let head = self
            .peek_head()?
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEof { needed: 1 }))?;
        self.pos += head.len;
        Ok(head)
    }

    /// Moves to the field with `tag` and consumes its head, returning its type; skips lower
    /// tags. Returns `None` (consuming nothing more) at end of input, at a StructEnd, or at a
    /// higher tag.
    pub fn skip_to_tag(&mut self, tag: u8) -> Result<Option<TarsType>, DecodeError> {
        loop {
            let Some(head) = self.peek_head()? else {
                return Ok(None);
            };
            if head.ty == TarsType::StructEnd || head.tag > tag {
                return Ok(None);
            }
            self.pos += head.len;
            if head.tag == tag {
                return Ok(Some(head.ty));
            }
            self.skip_field(head.ty)?;
        }
    }

    /// Skips the payload of a field whose head (of type `ty`) was just read.
    pub fn skip_field(&mut self, ty: TarsType) -> Result<(), DecodeError> {
        use TarsType::*;
        match ty {
            Int8 => self.advance(1),
            Int16 => self.advance(2),
            Int32 | Float => self.advance(4),
            Int64 | Double => self.advance(8),
            String1 => {
                let n = self.take_array::<1>()?[0] as usize;
                self.advance(n)
            }
            String4 => {
                let n = u32::from_be_bytes(self.take_array::<4>()?) as usize;
                self.advance(n)
            }
            Map => {
                let n = self.read_count(2)?;
                self.nested(|r| (0..n * 2).try_for_each(|_| r.skip_any_field()))
            }
            List => {
                let n = self.read_count(1)?;
                self.nested(|r| (0..n).try_for_each(|_| r.skip_any_field()))
            }
            SimpleList => {
                let n = self.read_simple_list_len()?;
                self.advance(n)
            }
            StructBegin => self.nested(|r| r.skip_to_struct_end()),
            StructEnd | ZeroTag => Ok(()),
        }
    }

    /// Reads a head and skips its field.
    pub fn skip_any_field(&mut self) -> Result<(), DecodeError> {
        let head = self.read_head()?;
        self.skip_field(head.ty)
    }

    /// Skips the remaining fields of the current nested struct, including its StructEnd.
    pub fn skip_to_struct_end(&mut self) -> Result<(), DecodeError> {
        loop {
            let head = self.read_head()?;
            if head.ty == TarsType::StructEnd {
                return Ok(());
            }
            self.skip_field(head.ty)?;
        }
    }

    /// Runs `f` one nesting level deeper, refusing to pass [`MAX_DEPTH`].
    pub fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(DecodeErrorKind::TooDeep));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    /// Reads an integer payload of type `ty`, accepting the same width or narrower.
    /// `widest` is the widest wire type acceptable for the destination.
    pub fn read_int_payload(
        &mut self,
        ty: TarsType,
        widest: TarsType,
        expected: &'static str,
    ) -> Result<i64, DecodeError> {
        use TarsType::*;
        let width_ok = match ty {
            ZeroTag | Int8 => true,
            Int16 => widest as u8 >= Int16 as u8,
            Int32 => widest as u8 >= Int32 as u8,
            Int64 => widest == Int64,
            _ => false,
        };
        if !width_ok {
            return Err(self.mismatch(expected, ty));
        }
        Ok(match ty {
            ZeroTag => 0,
            Int8 => i8::from_be_bytes(self.take_array()?) as i64,
            Int16 => i16::from_be_bytes(self.take_array()?) as i64,
            Int32 => i32::from_be_bytes(self.take_array()?) as i64,
            _ => i64::from_be_bytes(self.take_array()?),
        })
    }

    /// A type-mismatch error at the current offset.
    pub fn mismatch(&self, expected: &'static str, found: TarsType) -> DecodeError {
        self.error(DecodeErrorKind::TypeMismatch { expected, found })
    }

    /// Reads a float payload (Float or ZeroTag).
    pub fn read_f32_payload(&mut self, ty: TarsType) -> Result<f32, DecodeError> {
        match ty {
            TarsType::ZeroTag => Ok(0.0),
            TarsType::Float => Ok(f32::from_be_bytes(self.take_array()?)),
            other => Err(self.mismatch("float", other)),
        }
    }

    /// Reads a double payload (Double, Float widened, or ZeroTag).
    pub fn read_f64_payload(&mut self, ty: TarsType) -> Result<f64, DecodeError> {
        match ty {
            TarsType::ZeroTag => Ok(0.0),
            TarsType::Float => Ok(f32::from_be_bytes(self.take_array()?) as f64),
            TarsType::Double => Ok(f64::from_be_bytes(self.take_array()?)),
            other => Err(self.mismatch("double", other)),
        }
    }

    /// Reads a string payload (String1 or String4) as raw bytes, zero-copy.
    pub fn read_string_payload(&mut self, ty: TarsType) -> Result<Bytes, DecodeError> {
        let n = match ty {
            TarsType::String1 => self.take_array::<1>()?[0] as usize,
            TarsType::String4 => u32::from_be_bytes(self.take_array::<4>()?) as usize,
            other => return Err(self.mismatch("string", other)),
        };
        self.take_bytes(n)
    }

    /// Reads a `vector<byte>` payload: a SimpleList, or a List of int8, zero-copy for SimpleList.
    pub fn read_bytes_payload(&mut self, ty: TarsType) -> Result<Bytes, DecodeError> {
        match ty {
            TarsType::SimpleList => {
                let n = self.read_simple_list_len()?;
                self.take_bytes(n)
            }
            TarsType::List => {
                let n = self.read_count(1)?;
                let mut out = Vec::with_capacity(self.cautious_capacity::<u8>(n));
                for _ in 0..n {
                    out.push(self.read::<i8>(0)? as u8);
                }
                Ok(Bytes::from(out))
            }
            other => Err(self.mismatch("vector<byte>", other)),
        }
    }

    /// Reads the element count of a List or Map payload (an int at tag 0). Refuses counts that
    /// the rest of the input cannot hold, given each element takes at least `min_bytes_each`.
    pub fn read_count(&mut self, min_bytes_each: usize) -> Result<usize, DecodeError> {
        let n: i32 = self.read(0)?;
        self.check_count(n as i64, min_bytes_each)
    }

    fn check_count(&self, n: i64, min_bytes_each: usize) -> Result<usize, DecodeError> {
        if n < 0 {
            return Err(self.error(DecodeErrorKind::NegativeLength(n)));
        }
        let n = n as usize;
        if n.saturating_mul(min_bytes_each) > self.remaining() {
            return Err(self.error(DecodeErrorKind::LengthTooLarge {
                len: n as u64,
                remaining: self.remaining(),
            }));
        }
        Ok(n)
    }

    fn read_simple_list_len(&mut self) -> Result<usize, DecodeError> {
        let inner = self.take_array::<1>()?[0];
        if inner != 0 {
            self.pos -= 1;
            return Err(self.error(DecodeErrorKind::BadSimpleListHead(inner)));
        }
        let n: i32 = self.read(0)?;
        self.check_count(n as i64, 1)
    }

    /// Consumes `n` bytes and returns them, zero-copy.
    pub fn take_bytes(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.ensure(n)?;
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.ensure(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }

    fn advance(&mut self, n: usize) -> Result<(), DecodeError> {
        self.ensure(n)?;
        self.pos += n;
        Ok(())
    }

    fn ensure(&self, n: usize) -> Result<(), DecodeError> {
        let remaining = self.remaining();
        if n > remaining {
            Err(self.error(DecodeErrorKind::UnexpectedEof {
                needed: n - remaining,
            }))
        } else {
            Ok(())
        }
    }
}
