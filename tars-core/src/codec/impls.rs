//! [`TarsEncode`] / [`TarsDecode`] for the standard types.

use super::{
    DecodeError, DecodeErrorKind, TarsDecode, TarsEncode, TarsReader, TarsType, TarsWriter,
};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

macro_rules! signed_int {
    ($t:ty, $write:ident, $widest:ident, $name:literal) => {
        impl TarsEncode for $t {
            #[inline]
            fn encode(&self, w: &mut TarsWriter, tag: u8) {
                w.$write(tag, *self);
            }
            fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
                *self == idl_default.copied().unwrap_or_default()
            }
        }
        impl TarsDecode for $t {
            #[inline]
            fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
                // The width check guarantees the value fits.
                Ok(r.read_int_payload(ty, TarsType::$widest, $name)? as $t)
            }
        }
    };
}

signed_int!(i16, write_i16, Int16, "int16");
signed_int!(i32, write_i32, Int32, "int32");
signed_int!(i64, write_i64, Int64, "int64");

/// Unsigned types travel as the next wider signed type; out-of-range values are refused.
macro_rules! unsigned_int {
    ($t:ty, $write:ident, $widest:ident, $name:literal) => {
        impl TarsEncode for $t {
            #[inline]
            fn encode(&self, w: &mut TarsWriter, tag: u8) {
                w.$write(tag, *self);
            }
            fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
                *self == idl_default.copied().unwrap_or_default()
            }
        }
        impl TarsDecode for $t {
            fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
                let value = r.read_int_payload(ty, TarsType::$widest, $name)?;
                <$t>::try_from(value).map_err(|_| {
                    r.error(DecodeErrorKind::OutOfRange {
                        value,
                        target: $name,
                    })
                })
            }
        }
    };
}

unsigned_int!(u16, write_u16, Int32, "unsigned short");
unsigned_int!(u32, write_u32, Int64, "unsigned int");

impl TarsEncode for u8 {
    #[inline]
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_u8(tag, *self);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        *self == idl_default.copied().unwrap_or_default()
    }
    /// `Vec<u8>` is the natural Rust spelling of `vector<byte>`: a SimpleList.
    fn encode_slice(items: &[Self], w: &mut TarsWriter, tag: u8) {
        w.write_simple_list(tag, items);
    }
}

impl TarsDecode for u8 {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        let value = r.read_int_payload(ty, TarsType::Int16, "unsigned byte")?;
        u8::try_from(value).map_err(|_| {
            r.error(DecodeErrorKind::OutOfRange {
                value,
                target: "unsigned byte",
            })
        })
    }
    fn decode_vec(r: &mut TarsReader, ty: TarsType) -> Result<Vec<Self>, DecodeError> {
        Ok(r.read_bytes_payload(ty)?.to_vec())
    }
}

impl TarsEncode for i8 {
    #[inline]
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_i8(tag, *self);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        *self == idl_default.copied().unwrap_or_default()
    }
    fn encode_slice(items: &[Self], w: &mut TarsWriter, tag: u8) {
        let bytes: Vec<u8> = items.iter().map(|&b| b as u8).collect();
        w.write_simple_list(tag, &bytes);
    }
}

impl TarsDecode for i8 {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        Ok(r.read_int_payload(ty, TarsType::Int8, "int8")? as i8)
    }
    fn decode_vec(r: &mut TarsReader, ty: TarsType) -> Result<Vec<Self>, DecodeError> {
        Ok(r.read_bytes_payload(ty)?.iter().map(|&b| b as i8).collect())
    }
}

impl TarsEncode for bool {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_bool(tag, *self);
    }
}

impl TarsDecode for bool {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        Ok(r.read_int_payload(ty, TarsType::Int8, "bool")? != 0)
    }
}

impl TarsEncode for f32 {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_f32(tag, *self);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        *self == idl_default.copied().unwrap_or_default()
    }
}

impl TarsDecode for f32 {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        r.read_f32_payload(ty)
    }
}

impl TarsEncode for f64 {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_f64(tag, *self);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        *self == idl_default.copied().unwrap_or_default()
    }
}

impl TarsDecode for f64 {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        r.read_f64_payload(ty)
    }
}

impl TarsEncode for str {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_str(tag, self);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        self == idl_default.unwrap_or("")
    }
}

impl TarsEncode for String {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_str(tag, self);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        self.as_str() == idl_default.map_or("", String::as_str)
    }
}

impl TarsDecode for String {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        let start = r.position();
        let raw = r.read_string_payload(ty)?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| DecodeError::new(DecodeErrorKind::InvalidUtf8, start))
    }
}

impl TarsEncode for Bytes {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_simple_list(tag, self);
    }
    fn is_omitted_default(&self, _: Option<&Self>) -> bool {
        self.is_empty()
    }
}

impl TarsDecode for Bytes {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        r.read_bytes_payload(ty)
    }
}

impl<T: TarsEncode> TarsEncode for [T] {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        T::encode_slice(self, w, tag);
    }
    fn is_omitted_default(&self, _: Option<&Self>) -> bool {
        self.is_empty()
    }
}

impl<T: TarsEncode> TarsEncode for Vec<T> {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        T::encode_slice(self, w, tag);
    }
    fn is_omitted_default(&self, _: Option<&Self>) -> bool {
        self.is_empty()
    }
}

impl<T: TarsDecode> TarsDecode for Vec<T> {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        T::decode_vec(r, ty)
    }
}

impl<T: TarsEncode + ?Sized> TarsEncode for &T {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        (**self).encode(w, tag);
    }
    fn is_absent(&self) -> bool {
        (**self).is_absent()
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        (**self).is_omitted_default(idl_default.map(|d| &**d))
    }
}

impl<T: TarsEncode + ?Sized> TarsEncode for Box<T> {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        (**self).encode(w, tag);
    }
    fn is_absent(&self) -> bool {
        (**self).is_absent()
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        (**self).is_omitted_default(idl_default.map(|d| &**d))
    }
}

impl<T: TarsDecode> TarsDecode for Box<T> {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        T::decode_payload(r, ty).map(Box::new)
    }
}

/// `Option<T>` distinguishes an absent optional field from one holding its default:
/// `None` is never written and an absent field reads as `None`.
impl<T: TarsEncode> TarsEncode for Option<T> {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        if let Some(v) = self {
            v.encode(w, tag);
        }
    }
    fn is_absent(&self) -> bool {
        self.as_ref().is_none_or(T::is_absent)
    }
    fn is_omitted_default(&self, _: Option<&Self>) -> bool {
        self.is_none()
    }
}

impl<T: TarsDecode> TarsDecode for Option<T> {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        T::decode_payload(r, ty).map(Some)
    }
}

/// Writes a map; entries whose key or value is absent (`None`) are left out.
fn encode_map_entries<'a, K, V>(
    w: &mut TarsWriter,
    tag: u8,
    entries: impl Iterator<Item = (&'a K, &'a V)> + Clone,
) where
    K: TarsEncode + 'a,
    V: TarsEncode + 'a,
{
    let present = |(k, v): &(&K, &V)| !k.is_absent() && !v.is_absent();
    w.write_map_header(tag, entries.clone().filter(present).count());
    for (k, v) in entries.filter(present) {
        k.encode(w, 0);
        v.encode(w, 1);
    }
}

/// Reads a map payload into the collection `new` makes for the announced entry count (an
/// untrusted number: see [`TarsReader::cautious_capacity`]).
fn decode_map_entries<M, K: TarsDecode, V: TarsDecode>(
    r: &mut TarsReader,
    ty: TarsType,
    new: impl FnOnce(&TarsReader, usize) -> M,
    mut insert: impl FnMut(&mut M, K, V),
) -> Result<M, DecodeError> {
    if ty != TarsType::Map {
        return Err(r.mismatch("map", ty));
    }
    let n = r.read_count(2)?;
    let mut map = new(r, n);
    r.nested(|r| {
        for _ in 0..n {
            let k = r.read(0)?;
            let v = r.read(1)?;
            insert(&mut map, k, v);
        }
        Ok(map)
    })
}

impl<K: TarsEncode, V: TarsEncode> TarsEncode for BTreeMap<K, V> {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        encode_map_entries(w, tag, self.iter());
    }
    fn is_omitted_default(&self, _: Option<&Self>) -> bool {
        self.is_empty()
    }
}

impl<K: TarsDecode + Ord, V: TarsDecode> TarsDecode for BTreeMap<K, V> {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        decode_map_entries(
            r,
            ty,
            |_, _| BTreeMap::new(),
            |map, k, v| {
                map.insert(k, v);
            },
        )
    }
}

/// Written in sorted key order, as TarsCpp's `std::map` is, so the bytes are deterministic.
impl<K: TarsEncode + Ord, V: TarsEncode, S> TarsEncode for HashMap<K, V, S> {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        let mut entries: Vec<(&K, &V)> = self.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        encode_map_entries(w, tag, entries.iter().copied());
    }
    fn is_omitted_default(&self, _: Option<&Self>) -> bool {
        self.is_empty()
    }
}

impl<K: TarsDecode + Eq + Hash, V: TarsDecode, S: BuildHasher + Default> TarsDecode
    for HashMap<K, V, S>
{
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        let new = |r: &TarsReader, n| {
            HashMap::with_capacity_and_hasher(r.cautious_capacity::<(K, V)>(n), S::default())
        };
        decode_map_entries(r, ty, new, |map, k, v| {
            map.insert(k, v);
        })
    }
}

/// A TARS `string` kept as raw bytes, for peers that put text that is not UTF-8 (GBK, say)
/// or binary data in string fields; `String` refuses such bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteString(pub Bytes);

impl TarsEncode for ByteString {
    fn encode(&self, w: &mut TarsWriter, tag: u8) {
        w.write_string_bytes(tag, &self.0);
    }
    fn is_omitted_default(&self, idl_default: Option<&Self>) -> bool {
        idl_default.map_or(self.0.is_empty(), |d| self == d)
    }
}

impl TarsDecode for ByteString {
    fn decode_payload(r: &mut TarsReader, ty: TarsType) -> Result<Self, DecodeError> {
        r.read_string_payload(ty).map(ByteString)
    }
}
