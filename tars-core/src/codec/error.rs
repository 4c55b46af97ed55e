//! Decode errors: what went wrong, where (byte offset) and in which field.

use super::TarsType;
use std::fmt;

/// What a decoder found wrong with its input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a head or a payload.
    UnexpectedEof {
        /// How many more bytes were needed.
        needed: usize,
    },
    /// A head carries type id 14 or 15.
    InvalidType(u8),
    /// The field at the wanted tag has a type this reader cannot accept.
    TypeMismatch {
        /// What the reader accepts.
        expected: &'static str,
        /// What the wire holds.
        found: TarsType,
    },
    /// A `require` field is absent.
    RequiredFieldMissing,
    /// A length or element count is negative.
    NegativeLength(i64),
    /// A length or element count is larger than the rest of the input could hold.
    LengthTooLarge {
        /// The claimed length or count.
        len: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// Nesting (structs, lists, maps) deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    TooDeep,
    /// A string field is not valid UTF-8.
    InvalidUtf8,
    /// A SimpleList whose inner head is not `(tag 0, int8)`.
    BadSimpleListHead(u8),
    /// A value that decodes but is out of range for the Rust type.
    OutOfRange {
        /// The decoded value.
        value: i64,
        /// The Rust or IDL type it does not fit.
        target: &'static str,
    },
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self {
            UnexpectedEof { needed } => {
                write!(f, "unexpected end of input ({needed} more bytes needed)")
            }
            InvalidType(t) => write!(f, "invalid type id {t}"),
            TypeMismatch { expected, found } => {
                write!(f, "type mismatch: expected {expected}, found {found}")
            }
            RequiredFieldMissing => f.write_str("required field missing"),
            NegativeLength(n) => write!(f, "negative length {n}"),
            LengthTooLarge { len, remaining } => {
                write!(f, "length {len} exceeds the {remaining} bytes left")
            }
            TooDeep => write!(f, "nesting deeper than {}", super::MAX_DEPTH),
            InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            BadSimpleListHead(b) => {
                write!(f, "simple list inner head must be 0x00, found {b:#04x}")
            }
            OutOfRange { value, target } => write!(f, "value {value} out of range for {target}"),
        }
    }
}

/// A decode failure: the kind, the byte offset where it was detected and the field path
/// (`Test.Person.age(1)`) when a generated decoder knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    offset: usize,
    tag: Option<u8>,
    path: String,
}

impl DecodeError {
    /// An error of `kind` detected at byte `offset`.
    pub fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        DecodeError {
            kind,
            offset,
            tag: None,
            path: String::new(),
        }
    }

    /// The same error, noting the tag being read when it happened (the innermost tag wins).
    pub fn at_tag(mut self, tag: u8) -> Self {
        self.tag.get_or_insert(tag);
        self
    }

    /// The same error, prefixed with the field it happened in (used by generated code).
    pub fn in_field(mut self, owner: &str, field: &str, tag: u8) -> Self {
        let segment = format!("{owner}.{field}({tag})");
        if self.path.is_empty() {
            self.path = segment;
        } else {
            self.path = format!("{segment} > {}", self.path);
        }
        self.at_tag(tag)
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Byte offset in the decoded buffer where the problem was detected.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The tag being decoded, if known.
    pub fn tag(&self) -> Option<u8> {
        self.tag
    }

    /// The field path (`Outer.inner(3) > Inner.x(1)`), empty if unknown.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        } else if let Some(tag) = self.tag {
            write!(f, "tag {tag}: ")?;
        }
        write!(f, "{} at offset {}", self.kind, self.offset)
    }
}

impl std::error::Error for DecodeError {}
