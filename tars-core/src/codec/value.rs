//! Schema-less TARS values: decode any TARS bytes into fields without knowing the IDL
//! (what `tars_dump` prints), and write them back unchanged.

use super::{DecodeError, TarsReader, TarsType, TarsWriter};
use bytes::Bytes;

/// One field: its tag and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct TarsField {
    /// The field tag.
    pub tag: u8,
    /// The decoded value.
    pub value: TarsValue,
}

/// A value decoded without a schema. Integers of every width (and ZeroTag) become `Int`.
#[derive(Debug, Clone, PartialEq)]
pub enum TarsValue {
    /// Any integer (int8/16/32/64 or ZeroTag).
    Int(i64),
    /// A float.
    Float(f32),
    /// A double.
    Double(f64),
    /// A string's raw bytes (not necessarily UTF-8).
    String(Bytes),
    /// A SimpleList (`vector<byte>`).
    Bytes(Bytes),
    /// A list; each element is a field at tag 0.
    List(Vec<TarsField>),
    /// A map; each entry is a key field (tag 0) and a value field (tag 1).
    Map(Vec<(TarsField, TarsField)>),
    /// A nested struct's fields.
    Struct(Vec<TarsField>),
}

impl TarsValue {
    /// Decodes every field up to the end of input (or a StructEnd, which is left unread).
    pub fn decode_fields(r: &mut TarsReader) -> Result<Vec<TarsField>, DecodeError> {
        let mut fields = Vec::new();
        while let Some(head) = r.peek_head()? {
            if head.ty == TarsType::StructEnd {
                break;
            }
            fields.push(Self::decode_field(r)?);
        }
        Ok(fields)
    }

    /// Decodes the next field, head included.
    pub fn decode_field(r: &mut TarsReader) -> Result<TarsField, DecodeError> {
        let head = r.read_head()?;
        let value = Self::decode_payload(r, head.ty).map_err(|e| e.at_tag(head.tag))?;
        Ok(TarsField {
            tag: head.tag,
            value,
        })
    }

    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<TarsValue, DecodeError> {
        use TarsType::*;
        Ok(match ty {
            ZeroTag | Int8 | Int16 | Int32 | Int64 => {
                TarsValue::Int(r.read_int_payload(ty, Int64, "integer")?)
            }
            Float => TarsValue::Float(r.read_f32_payload(ty)?),
            Double => TarsValue::Double(r.read_f64_payload(ty)?),
            String1 | String4 => TarsValue::String(r.read_string_payload(ty)?),
            SimpleList => TarsValue::Bytes(r.read_bytes_payload(ty)?),
            List => {
                let n = r.read_count(1)?;
                r.nested(|r| {
                    let mut items = Vec::with_capacity(r.cautious_capacity::<TarsField>(n));
                    for _ in 0..n {
                        items.push(Self::decode_field(r)?);
                    }
                    Ok(TarsValue::List(items))
                })?
            }
            Map => {
                let n = r.read_count(2)?;
                r.nested(|r| {
                    let mut entries =
                        Vec::with_capacity(r.cautious_capacity::<(TarsField, TarsField)>(n));
                    for _ in 0..n {
                        entries.push((Self::decode_field(r)?, Self::decode_field(r)?));
                    }
                    Ok(TarsValue::Map(entries))
                })?
            }
            StructBegin => r
                .nested(|r| {
                    let fields = Self::decode_fields(r)?;
                    r.skip_to_struct_end()?;
                    Ok(fields)
                })
                .map(TarsValue::Struct)?,
            StructEnd => return Err(r.mismatch("a value", ty)),
        })
    }

    /// Decodes a whole buffer of top-level fields.
    pub fn decode_all(buf: impl Into<Bytes>) -> Result<Vec<TarsField>, DecodeError> {
        let mut r = TarsReader::new(buf.into());
        let fields = Self::decode_fields(&mut r)?;
        match r.peek_head()? {
            None => Ok(fields),
            // A StructEnd at top level has no matching StructBegin.
            Some(head) => Err(r.mismatch("a field", head.ty)),
        }
    }

    /// Writes this value at `tag` (integers compacted as usual).
    pub fn encode(&self, w: &mut TarsWriter, tag: u8) {
        match self {
            TarsValue::Int(v) => w.write_i64(tag, *v),
            TarsValue::Float(v) => w.write_f32(tag, *v),
            TarsValue::Double(v) => w.write_f64(tag, *v),
            TarsValue::String(v) => w.write_string_bytes(tag, v),
            TarsValue::Bytes(v) => w.write_simple_list(tag, v),
            TarsValue::List(items) => {
                w.write_list_header(tag, items.len());
                items.iter().for_each(|f| f.value.encode(w, f.tag));
            }
            TarsValue::Map(entries) => {
                w.write_map_header(tag, entries.len());
                for (k, v) in entries {
                    k.value.encode(w, k.tag);
                    v.value.encode(w, v.tag);
                }
            }
            TarsValue::Struct(fields) => {
                w.write_struct_begin(tag);
                fields.iter().for_each(|f| f.value.encode(w, f.tag));
                w.write_struct_end();
            }
        }
    }
}
