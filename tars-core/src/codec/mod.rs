//! The TARS binary encoding: [`TarsWriter`], [`TarsReader`], the [`TarsEncode`] /
//! [`TarsDecode`] traits with impls for the standard types, [`TarsStruct`] for generated
//! structs, and the schema-less [`TarsValue`].
//!
//! Rust type to IDL type:
//!
//! | Rust | IDL | wire |
//! |---|---|---|
//! | `bool` | bool | char 0/1 |
//! | `i8` | byte | char |
//! | `u8` | unsigned byte | short |
//! | `i16` | short | short |
//! | `u16` | unsigned short | int |
//! | `i32` | int | int |
//! | `u32` | unsigned int | long |
//! | `i64` | long | long |
//! | `f32` / `f64` | float / double | float / double |
//! | `String` | string | String1 / String4 |
//! | `Vec<u8>`, `Vec<i8>`, [`Bytes`](crate::Bytes) | `vector<byte>` | SimpleList |
//! | `Vec<T>` | `vector<T>` | List |
//! | `BTreeMap<K, V>`, `HashMap<K, V>` | `map<K, V>` | Map, keys sorted |
//! | `#[derive(TarsStruct)]` | struct | StructBegin .. StructEnd |
//! | `#[derive(TarsEnum)]` | enum | int |
//!
//! Integers are written in the narrowest width (0 as ZeroTag) and read from the same width
//! or narrower, exactly as TarsCpp does.

mod error;
mod head;
mod impls;
pub use impls::ByteString;
mod reader;
mod value;
mod writer;

pub use error::{DecodeError, DecodeErrorKind};
pub use head::TarsType;
pub use reader::{Head, TarsReader};
pub use value::{TarsField, TarsValue};
pub use writer::TarsWriter;

use bytes::Bytes;

/// How deep structs, lists and maps may nest in decoded input before it is refused.
pub const MAX_DEPTH: usize = 100;

/// A value that can be written as a TARS field.
pub trait TarsEncode {
    /// Writes `self` as the field `tag`.
    fn encode(&self, w: &mut TarsWriter, tag: u8);

    /// For an optional struct field: whether TarsCpp (`--check-default`) leaves this value
    /// off the wire. Numbers and strings equal to their IDL default (`None`: the type's zero
    /// value) and empty containers are left off; bools, structs and enums are always written.
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        let _ = idl_default;
        false
    }

    /// Writes a slice of `Self` as a vector: a List, or a SimpleList for bytes.
    #[doc(hidden)]
    fn encode_slice(items: &[Self], w: &mut TarsWriter, tag: u8)
    where
        Self: Sized,
    {
        let present = items.iter().filter(|item| !item.is_absent()).count();
        w.write_list_header(tag, present);
        for item in items {
            item.encode(w, 0);
        }
    }

    /// Whether this value writes nothing at all (`None`). Lists and maps leave such elements
    /// out, so their counts stay true.
    fn is_absent(&self) -> bool {
        false
    }
}

/// A value that can be read from a TARS field.
pub trait TarsDecode: Sized {
    /// Reads the payload of a field whose head, of type `ty`, was just consumed.
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError>;

    /// Reads a vector of `Self`: a List, or for bytes a SimpleList (or List).
    #[doc(hidden)]
    fn decode_vec(r: &mut TarsReader, ty: TarsType) -> Result<Vec<Self>, DecodeError> {
        if ty != TarsType::List {
            return Err(r.mismatch("list", ty));
        }
        let n = r.read_count(1)?;
        r.nested(|r| {
            let mut out = Vec::with_capacity(r.cautious_capacity::<Self>(n));
            for _ in 0..n {
                out.push(r.read(0)?);
            }
            Ok(out)
        })
    }
}

/// A TARS struct (implemented by `#[derive(TarsStruct)]`).
pub trait TarsStruct: TarsEncode + TarsDecode {
    /// The TARS class name, `Module.Struct` (used by TUP).
    const CLASS_NAME: &'static str;

    /// Writes the fields, in ascending tag order, without StructBegin/End.
    fn write_fields(&self, w: &mut TarsWriter);

    /// Reads the fields from the current position; stops before a StructEnd or at end of input.
    fn read_fields(r: &mut TarsReader) -> Result<Self, DecodeError>;

    /// Encodes the struct at top level (no StructBegin/End), as packets and sBuffers are.
    fn to_tars_bytes(&self) -> Bytes {
        let mut w = TarsWriter::new();
        self.write_fields(&mut w);
        w.into_bytes()
    }

    /// Decodes a top-level struct; trailing unknown fields are ignored.
    fn from_tars_bytes(buf: impl Into<Bytes>) -> Result<Self, DecodeError> {
        Self::read_fields(&mut TarsReader::new(buf.into()))
    }
}

/// Writes a nested struct at `tag` (used by generated code).
pub fn encode_nested_struct<T: TarsStruct>(value: &T, w: &mut TarsWriter, tag: u8) {
    w.write_struct_begin(tag);
    value.write_fields(w);
    w.write_struct_end();
}

/// Reads a nested struct payload, skipping fields this version does not know (used by
/// generated code).
pub fn decode_nested_struct<T: TarsStruct>(
    r: &mut TarsReader,
    ty: TarsType,
) -> Result<T, DecodeError> {
    if ty != TarsType::StructBegin {
        return Err(r.mismatch(T::CLASS_NAME, ty));
    }
    r.nested(|r| {
        let value = T::read_fields(r)?;
        r.skip_to_struct_end()?;
        Ok(value)
    })
}

/// Encodes one value as the only field at `tag`.
pub fn to_bytes<T: TarsEncode + ?Sized>(tag: u8, value: &T) -> Bytes {
    let mut w = TarsWriter::new();
    value.encode(&mut w, tag);
    w.into_bytes()
}

/// Decodes the field at `tag` (required) from `buf`.
pub fn from_bytes<T: TarsDecode>(tag: u8, buf: impl Into<Bytes>) -> Result<T, DecodeError> {
    TarsReader::new(buf.into()).read(tag)
}

#[cfg(test)]
mod tests;
