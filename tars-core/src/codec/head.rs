//! The one-byte (or two-byte) field head: tag in the high nibble, type in the low nibble.

use std::fmt;

/// Tags 0..=14 fit in the head byte; from 15 on the tag takes a second byte.
pub(crate) const TAG_IN_NEXT_BYTE: u8 = 15;

/// The wire type id of a field (the low nibble of its head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TarsType {
    /// 1-byte signed integer (also bool).
    Int8 = 0,
    /// 2-byte big-endian signed integer.
    Int16 = 1,
    /// 4-byte big-endian signed integer.
    Int32 = 2,
    /// 8-byte big-endian signed integer.
    Int64 = 3,
    /// IEEE-754 binary32, big-endian.
    Float = 4,
    /// IEEE-754 binary64, big-endian.
    Double = 5,
    /// String with a 1-byte length.
    String1 = 6,
    /// String with a 4-byte big-endian length.
    String4 = 7,
    /// Map: count, then key at tag 0 and value at tag 1 per entry.
    Map = 8,
    /// List: count, then each element at tag 0.
    List = 9,
    /// Start of a nested struct.
    StructBegin = 10,
    /// End of a nested struct.
    StructEnd = 11,
    /// Integer (or float) zero with no payload.
    ZeroTag = 12,
    /// `vector<byte>`: inner head, count, raw bytes.
    SimpleList = 13,
}

impl TarsType {
    /// Maps a type nibble to its type, or `None` for 14 and 15.
    pub fn from_u8(v: u8) -> Option<TarsType> {
        use TarsType::*;
        Some(match v {
            0 => Int8,
            1 => Int16,
            2 => Int32,
            3 => Int64,
            4 => Float,
            5 => Double,
            6 => String1,
            7 => String4,
            8 => Map,
            9 => List,
            10 => StructBegin,
            11 => StructEnd,
            12 => ZeroTag,
            13 => SimpleList,
            _ => return None,
        })
    }

    /// A short lowercase name used in error messages and dumps.
    pub fn name(self) -> &'static str {
        use TarsType::*;
        match self {
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            Float => "float",
            Double => "double",
            String1 => "string1",
            String4 => "string4",
            Map => "map",
            List => "list",
            StructBegin => "struct-begin",
            StructEnd => "struct-end",
            ZeroTag => "zero",
            SimpleList => "simple-list",
        }
    }
}

impl fmt::Display for TarsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
