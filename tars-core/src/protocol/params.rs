//! Parameter encoding inside `sBuffer`: TARS (v1) puts each parameter at its tag, TUP (v3)
//! puts each one, encoded alone at tag 0, in a `map<string, vector<byte>>` keyed by name.
//! Generated code uses [`ParamsWriter`] and [`ParamsReader`] so it works for both.

use super::{TARS_VERSION, TUP_VERSION};
use crate::codec::{from_bytes, to_bytes, DecodeError, DecodeErrorKind};
use crate::{TarsDecode, TarsEncode, TarsReader, TarsWriter};
use bytes::{Bytes, BytesMut};
use std::cell::Cell;
use std::collections::BTreeMap;

/// A TARS writer's first buffer: most calls' parameters fit, so it never grows.
const PARAMS_CAPACITY: usize = 256;
/// A recycled parameter buffer that grew past this is let go instead.
const SPARE_KEEP: usize = 16 * 1024;

thread_local! {
    /// One parameter buffer this thread's calls gave back ([`recycle`]), for the next writer.
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// Gives a parameter buffer whose bytes were copied into their frame back for the next
/// [`ParamsWriter::new`] on this thread (no allocation per call).
pub(crate) fn recycle(mut buf: BytesMut) {
    if buf.capacity() <= SPARE_KEEP {
        buf.clear();
        SPARE.set(Some(buf));
    }
}

/// TUP keys under which a response carries the return value.
const TUP_RET_KEYS: [&str; 2] = ["", "tars_ret"];

/// Writes the parameters (or the return value and out parameters) of one call.
#[derive(Debug)]
pub enum ParamsWriter {
    /// TARS: fields at their tags.
    Tars(TarsWriter),
    /// TUP: name -> parameter encoded at tag 0.
    Tup(BTreeMap<String, Bytes>),
}

impl ParamsWriter {
    /// A writer for packets of `version` (TUP for 3, TARS otherwise).
    pub fn new(version: i16) -> Self {
        if version == TUP_VERSION {
            ParamsWriter::Tup(BTreeMap::new())
        } else {
            // A recycled buffer, or room for typical parameters without growing.
            let buf = SPARE
                .take()
                .unwrap_or_else(|| BytesMut::with_capacity(PARAMS_CAPACITY));
            ParamsWriter::Tars(TarsWriter::from_buf(buf))
        }
    }

    /// The packet version this writer encodes for.
    pub fn version(&self) -> i16 {
        match self {
            ParamsWriter::Tars(_) => TARS_VERSION,
            ParamsWriter::Tup(_) => TUP_VERSION,
        }
    }

    /// Writes a parameter: at `tag` for TARS, under `name` for TUP.
    pub fn write<T: TarsEncode + ?Sized>(&mut self, tag: u8, name: &str, value: &T) {
        match self {
            ParamsWriter::Tars(w) => value.encode(w, tag),
            ParamsWriter::Tup(map) => {
                map.insert(name.to_string(), to_bytes(0, value));
            }
        }
    }

    /// Writes the return value: tag 0 for TARS, keys `""` and `"tars_ret"` for TUP.
    pub fn write_ret<T: TarsEncode + ?Sized>(&mut self, value: &T) {
        match self {
            ParamsWriter::Tars(w) => value.encode(w, 0),
            ParamsWriter::Tup(map) => {
                let encoded = to_bytes(0, value);
                for key in TUP_RET_KEYS {
                    map.insert(key.to_string(), encoded.clone());
                }
            }
        }
    }

    /// The finished `sBuffer`.
    pub fn finish(self) -> Bytes {
        match self {
            ParamsWriter::Tars(w) => w.into_bytes(),
            ParamsWriter::Tup(map) => to_bytes(0, &map),
        }
    }
}

/// Reads the parameters (or the return value and out parameters) of one call.
#[derive(Debug)]
pub enum ParamsReader {
    /// TARS: fields at their tags, read front to back.
    Tars(TarsReader),
    /// TUP: name -> parameter encoded at tag 0.
    Tup(BTreeMap<String, Bytes>),
}

impl ParamsReader {
    /// A reader for an `sBuffer` of a packet of `version`.
    pub fn new(version: i16, buffer: Bytes) -> Result<Self, DecodeError> {
        if version == TUP_VERSION {
            // An empty sBuffer is an empty map (TarsCpp sends one on some error paths).
            if buffer.is_empty() {
                return Ok(ParamsReader::Tup(BTreeMap::new()));
            }
            Ok(ParamsReader::Tup(from_bytes(0, buffer)?))
        } else {
            Ok(ParamsReader::Tars(TarsReader::new(buffer)))
        }
    }

    /// The packet version a response to these parameters should use.
    pub fn version(&self) -> i16 {
        match self {
            ParamsReader::Tars(_) => TARS_VERSION,
            ParamsReader::Tup(_) => TUP_VERSION,
        }
    }

    /// A writer for the response, in the same encoding.
    pub fn response_writer(&self) -> ParamsWriter {
        ParamsWriter::new(self.version())
    }

    /// Reads a required parameter: at `tag` for TARS, under `name` for TUP. Parameters must
    /// be read in ascending tag order.
    pub fn read<T: TarsDecode>(&mut self, tag: u8, name: &str) -> Result<T, DecodeError> {
        match self {
            ParamsReader::Tars(r) => r.read(tag),
            ParamsReader::Tup(map) => match map.get(name) {
                Some(bytes) => from_bytes(0, bytes.clone()),
                None => Err(DecodeError::new(DecodeErrorKind::RequiredFieldMissing, 0)),
            },
        }
    }

    /// Reads the return value: tag 0 for TARS, key `""` or `"tars_ret"` for TUP.
    pub fn read_ret<T: TarsDecode>(&mut self) -> Result<T, DecodeError> {
        match self {
            ParamsReader::Tars(r) => r.read(0),
            ParamsReader::Tup(map) => match TUP_RET_KEYS.iter().find_map(|k| map.get(*k)) {
                Some(bytes) => from_bytes(0, bytes.clone()),
                None => Err(DecodeError::new(DecodeErrorKind::RequiredFieldMissing, 0)),
            },
        }
    }
}
