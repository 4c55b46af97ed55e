//! `tars_dump`: prints TARS bytes as JSON without knowing their schema, like
//! `protoc --decode_raw`.
//!
//! ```text
//! cargo run --example tars_dump -- 1001 2602 6869            # hex argument (whitespace ignored)
//! echo 0000002610012c3c... | cargo run --example tars_dump -- --frame   # hex on stdin
//! ```
//!
//! Without `--frame` it prints one JSON array of fields `{"tag": N, "type": T, "value": V}`, T
//! one of `int`, `float`, `double`, `string`, `bytes` (lowercase hex), `list` (an array of
//! fields), `map` (an array of `[key_field, value_field]` pairs) or `struct` (an array of
//! fields). A string that is not UTF-8 has `"value": null` and a `"hex"` key; a NaN or infinite
//! float has `"value": null` and a `"text"` key.
//!
//! With `--frame` the input is a framed RequestPacket or ResponsePacket (a 4-byte big-endian
//! length that counts itself, then the packet). It prints an object with the IDL field names,
//! maps as JSON objects, and `sBuffer` decoded: a field array (TARS, iVersion 1), an object of
//! field arrays keyed by parameter name (TUP, iVersion 3) or the JSON itself (iVersion 5).
//!
//! Bad input prints one line on stderr naming the byte offset and exits with status 1.

use bytes::Bytes;
use serde_json::{Map, Value};
use std::io::Read;
use std::process::ExitCode;
use tars_core::codec::TarsField;
use tars_core::{DecodeError, TarsValue};

const USAGE: &str = "usage: tars_dump [--frame] [HEX]   (reads the hex from stdin without HEX)";

const REQUEST_FIELDS: [&str; 10] = [
    "iVersion",
    "cPacketType",
    "iMessageType",
    "iRequestId",
    "sServantName",
    "sFuncName",
    "sBuffer",
    "iTimeout",
    "context",
    "status",
];
const RESPONSE_FIELDS: [&str; 9] = [
    "iVersion",
    "cPacketType",
    "iRequestId",
    "iMessageType",
    "iRet",
    "sBuffer",
    "status",
    "sResultDesc",
    "context",
];

/// Why the input could not be dumped, and where: a byte offset in the decoded input, or in
/// the hex text for hex errors.
struct Failure {
    offset: usize,
    message: String,
    in_hex_text: bool,
}

impl Failure {
    /// A decode error in a buffer that starts at `base` in the input.
    fn decode(e: &DecodeError, base: usize, context: &str) -> Self {
        let tag = e.tag().map(|t| format!("tag {t}: ")).unwrap_or_default();
        Failure::at(base + e.offset(), format!("{context}{tag}{}", e.kind()))
    }

    fn at(offset: usize, message: impl Into<String>) -> Self {
        Failure {
            offset,
            message: message.into(),
            in_hex_text: false,
        }
    }

    fn in_hex(offset: usize, message: impl Into<String>) -> Self {
        Failure {
            offset,
            message: message.into(),
            in_hex_text: true,
        }
    }
}

fn main() -> ExitCode {
    let mut frame = false;
    let mut hex: Option<String> = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--frame" => frame = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => {
                eprintln!("tars_dump: unknown option {s}\n{USAGE}");
                return ExitCode::from(2);
            }
            s => hex.get_or_insert_with(String::new).push_str(s),
        }
    }
    let text = match hex {
        Some(text) => text,
        None => {
            let mut raw = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
                eprintln!("tars_dump: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
            // Offsets stay right up to the first non-UTF-8 byte, which is not hex anyway.
            String::from_utf8_lossy(&raw).into_owned()
        }
    };
    let result = parse_hex(&text).and_then(|input| {
        let input = Bytes::from(input);
        if frame {
            dump_frame(&input)
        } else {
            let fields = decode(&input, &input, "")?;
            Ok(pretty(
                &Value::Array(fields.iter().map(field_json).collect()),
                0,
            ))
        }
    });
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            let of = if f.in_hex_text {
                " of the hex text"
            } else {
                ""
            };
            eprintln!("tars_dump: {} at offset {}{of}", f.message, f.offset);
            ExitCode::FAILURE
        }
    }
}

/// Hex digits to bytes; ASCII whitespace anywhere is ignored.
fn parse_hex(text: &str) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<(usize, u8)> = None;
    for (offset, c) in text.char_indices() {
        if c.is_ascii_whitespace() {
            continue;
        }
        let Some(digit) = c.to_digit(16) else {
            return Err(Failure::in_hex(offset, format!("invalid hex digit {c:?}")));
        };
        match high.take() {
            None => high = Some((offset, digit as u8)),
            Some((_, h)) => out.push(h << 4 | digit as u8),
        }
    }
    match high {
        Some((offset, _)) => Err(Failure::in_hex(
            offset,
            "odd number of hex digits: unpaired digit",
        )),
        None => Ok(out),
    }
}

/// Decodes `buf`, a zero-copy slice of `input`, as top-level fields.
fn decode(input: &Bytes, buf: &Bytes, context: &str) -> Result<Vec<TarsField>, Failure> {
    TarsValue::decode_all(buf.clone())
        .map_err(|e| Failure::decode(&e, offset_in(input, buf), context))
}

/// Where `part` starts in `input`: decoded strings and bytes are zero-copy slices of the input,
/// so their address tells.
fn offset_in(input: &Bytes, part: &Bytes) -> usize {
    let offset = (part.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
    if offset <= input.len() {
        offset
    } else {
        0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Indented JSON that keeps each value whose compact form fits in the line on one line.
fn pretty(v: &Value, indent: usize) -> String {
    let compact = v.to_string();
    let items: Vec<String> = match v {
        _ if indent + compact.len() <= 100 => return compact,
        Value::Array(items) => items.iter().map(|x| pretty(x, indent + 2)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, x)| format!("{}: {}", Value::from(k.as_str()), pretty(x, indent + 2)))
            .collect(),
        _ => return compact,
    };
    let (open, close) = if v.is_array() { ('[', ']') } else { ('{', '}') };
    let pad = " ".repeat(indent);
    format!(
        "{open}\n{pad}  {}\n{pad}{close}",
        items.join(&format!(",\n{pad}  "))
    )
}

/// `{"tag": N, "type": T, "value": V}`, plus `"hex"` or `"text"` when `value` is null.
fn field_json(f: &TarsField) -> Value {
    let mut obj = Map::new();
    let (ty, value) = match &f.value {
        TarsValue::Int(v) => ("int", Value::from(*v)),
        // Display gives the shortest text that reads back as the same f32 (0.1, not 0.100000001).
        TarsValue::Float(v) => (
            "float",
            float_json(v.to_string().parse().unwrap_or(*v as f64), &mut obj),
        ),
        TarsValue::Double(v) => ("double", float_json(*v, &mut obj)),
        TarsValue::String(b) => match std::str::from_utf8(b) {
            Ok(s) => ("string", Value::from(s)),
            Err(_) => {
                obj.insert("hex".into(), hex(b).into());
                ("string", Value::Null)
            }
        },
        TarsValue::Bytes(b) => ("bytes", hex(b).into()),
        TarsValue::List(items) => ("list", items.iter().map(field_json).collect()),
        TarsValue::Map(entries) => (
            "map",
            entries
                .iter()
                .map(|(k, v)| Value::Array(vec![field_json(k), field_json(v)]))
                .collect(),
        ),
        TarsValue::Struct(fields) => ("struct", fields.iter().map(field_json).collect()),
    };
    obj.insert("tag".into(), f.tag.into());
    obj.insert("type".into(), ty.into());
    obj.insert("value".into(), value);
    Value::Object(obj)
}

fn float_json(v: f64, obj: &mut Map<String, Value>) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or_else(|| {
            obj.insert("text".into(), v.to_string().into());
            Value::Null
        })
}

/// A packet field without its tag: numbers and UTF-8 strings as themselves, string-keyed maps
/// as objects, anything else as a generic field.
fn plain_json(f: &TarsField) -> Value {
    match &f.value {
        TarsValue::Int(v) => Value::from(*v),
        TarsValue::String(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::from(s),
            Err(_) => field_json(f),
        },
        TarsValue::Map(entries) => entries
            .iter()
            .map(|(k, v)| match &k.value {
                TarsValue::String(s) => std::str::from_utf8(s)
                    .ok()
                    .map(|s| (s.to_string(), plain_json(v))),
                _ => None,
            })
            .collect::<Option<Map<_, _>>>()
            .map_or_else(|| field_json(f), Value::Object),
        _ => field_json(f),
    }
}

fn dump_frame(input: &Bytes) -> Result<String, Failure> {
    let Some(prefix) = input.get(..4) else {
        return Err(Failure::at(0, "frame shorter than its 4-byte length"));
    };
    let len = u32::from_be_bytes(prefix.try_into().expect("4 bytes")) as usize;
    if len != input.len() {
        let given = input.len();
        return Err(Failure::at(
            0,
            format!("frame length {len} does not match the {given} bytes given"),
        ));
    }
    let fields = decode(input, &input.slice(4..), "")?;
    let field = |tag: u8| fields.iter().find(|f| f.tag == tag).map(|f| &f.value);
    let names: &[&str] = match field(5) {
        Some(TarsValue::String(_)) => &REQUEST_FIELDS,
        Some(TarsValue::Int(_)) => &RESPONSE_FIELDS,
        _ => {
            let message =
                "neither a RequestPacket (tag 5 a string) nor a ResponsePacket (tag 5 an int)";
            return Err(Failure::at(4, message));
        }
    };
    let version = match field(1) {
        Some(TarsValue::Int(v)) => *v,
        _ => 0,
    };
    let mut out = Vec::new();
    for f in &fields {
        let name = match f.tag.checked_sub(1).and_then(|i| names.get(i as usize)) {
            Some(name) => name.to_string(),
            None => format!("tag {}", f.tag),
        };
        let value = match &f.value {
            TarsValue::Bytes(b) if name == "sBuffer" => params_json(input, b, version)?,
            _ => plain_json(f),
        };
        out.push(format!("  {}: {}", Value::from(name), pretty(&value, 2)));
    }
    Ok(format!("{{\n{}\n}}", out.join(",\n")))
}

/// The decoded sBuffer of a packet of version `version`.
fn params_json(input: &Bytes, buf: &Bytes, version: i64) -> Result<Value, Failure> {
    if version == 5 {
        return serde_json::from_slice(buf)
            .map_err(|e| Failure::at(offset_in(input, buf), format!("sBuffer is not JSON: {e}")));
    }
    let fields = decode(input, buf, "sBuffer: ")?;
    if version == 3 {
        // TUP: map<string, vector<byte>> at tag 0, each value one argument at tag 0.
        if let [TarsField {
            tag: 0,
            value: TarsValue::Map(entries),
        }] = fields.as_slice()
        {
            let mut params = Map::new();
            for (k, v) in entries {
                let name = plain_json(k);
                let name = name
                    .as_str()
                    .map_or_else(|| name.to_string(), str::to_string);
                let value = match &v.value {
                    TarsValue::Bytes(b) => {
                        let context = format!("sBuffer[{name:?}]: ");
                        decode(input, b, &context)?.iter().map(field_json).collect()
                    }
                    _ => plain_json(v),
                };
                params.insert(name, value);
            }
            return Ok(Value::Object(params));
        }
    }
    Ok(fields.iter().map(field_json).collect())
}
