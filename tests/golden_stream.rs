//! Golden vectors against the real npm package @tars/stream (through `tests/node/codec_peer.js`):
//! for every type and its edge values, at tags 0, 1, 14, 15, 200 and 255,
//!
//! * Tars.js encodes the value to exactly our bytes (where the two implementations agree on
//!   the bytes; the exceptions are marked where the cases are built),
//! * we decode the bytes Tars.js wrote back to the value, and
//! * Tars.js decodes our bytes back to the same JSON value.
//!
//! The cases are batched: one node process per test function.

mod common;

use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;
use std::process::Stdio;
use tars_core::codec::{from_bytes, to_bytes};
use tars_core::{TarsDecode, TarsEncode};

// The IDL of tests/node/test_types.js is module Test of the hello demo.
use tars_rs::demo::hello::{AllTypes, Color, Person};

// ---------------------------------------------------------------------------------------------
// Rust type -> codec_peer type string and JSON value.

trait Peer: TarsEncode + TarsDecode + PartialEq + Debug + 'static {
    /// The codec_peer type string.
    fn idl() -> String;
    /// The codec_peer JSON form.
    fn json(&self) -> Value;
    /// For `Vec<Self>` (a list, except `Vec<u8>`, which is bytes).
    fn vec_idl() -> String {
        format!("list<{}>", Self::idl())
    }
    fn vec_json(items: &[Self]) -> Value
    where
        Self: Sized,
    {
        items.iter().map(Peer::json).collect()
    }
}

macro_rules! peer_scalar {
    ($($t:ty => $idl:literal, $json:expr;)*) => {$(
        impl Peer for $t {
            fn idl() -> String {
                $idl.into()
            }
            fn json(&self) -> Value {
                let to_json: fn(&$t) -> Value = $json;
                to_json(self)
            }
        }
    )*};
}

peer_scalar! {
    bool => "bool", |v| json!(v);
    i8 => "int8", |v| json!(v);
    i16 => "int16", |v| json!(v);
    i32 => "int32", |v| json!(v);
    // int64 and uint32 travel in JSON as decimal strings (exact in Tars.js string mode).
    i64 => "int64", |v| json!(v.to_string());
    u16 => "uint16", |v| json!(v);
    u32 => "uint32", |v| json!(v.to_string());
    f32 => "float", |v| json!(*v as f64);
    f64 => "double", |v| json!(v);
    String => "string", |v| json!(v);
    Color => "enum:Test.Color", |v| json!(v.value());
}

/// `u8` is `uint8`, and `Vec<u8>` is `bytes` (vector<byte>, a SimpleList) as lowercase hex.
impl Peer for u8 {
    fn idl() -> String {
        "uint8".into()
    }
    fn json(&self) -> Value {
        json!(self)
    }
    fn vec_idl() -> String {
        "bytes".into()
    }
    fn vec_json(items: &[Self]) -> Value {
        json!(hex(items))
    }
}

impl<T: Peer> Peer for Vec<T> {
    fn idl() -> String {
        T::vec_idl()
    }
    fn json(&self) -> Value {
        T::vec_json(self)
    }
}

impl<K: Peer + Ord, V: Peer> Peer for BTreeMap<K, V> {
    fn idl() -> String {
        format!("map<{},{}>", K::idl(), V::idl())
    }
    fn json(&self) -> Value {
        self.iter()
            .map(|(k, v)| json!([k.json(), v.json()]))
            .collect()
    }
}

impl Peer for Person {
    fn idl() -> String {
        "struct:Test.Person".into()
    }
    fn json(&self) -> Value {
        json!({
            "name": self.name.json(), "age": self.age.json(),
            "tags": self.tags.json(), "scores": self.scores.json(),
        })
    }
}

impl Peer for AllTypes {
    fn idl() -> String {
        "struct:Test.AllTypes".into()
    }
    fn json(&self) -> Value {
        json!({
            "b": self.b.json(), "i8v": self.i8v.json(), "i16v": self.i16v.json(),
            "i32v": self.i32v.json(), "i64v": self.i64v.json(), "f32v": self.f32v.json(),
            "f64v": self.f64v.json(), "s": self.s.json(), "bin": self.bin.json(),
            "ints": self.ints.json(), "dict": self.dict.json(), "people": self.people.json(),
            "u32v": self.u32v.json(), "color": self.color.json(), "byId": self.by_id.json(),
            "farTag": self.far_tag.json(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Cases.

const TAGS: [u8; 6] = [0, 1, 14, 15, 200, 255];

/// Why Tars.js and we may write different bytes for one value (both decode either form).
#[derive(Clone, Copy, Debug, PartialEq)]
enum BytesDiffer {
    /// Tars.js writes 0.0 (and -0.0) as ZeroTag; we follow TarsCpp, which writes 4 or 8 zero
    /// bytes. Readers accept both.
    ZeroFloat,
    /// Tars.js writes map entries in JS object key order (integer-like keys ascending first,
    /// then insertion order); we sort the keys as TarsCpp's std::map does. Tars.js also
    /// *decodes* into that order, so the entries are compared as a set.
    MapOrder,
    /// tars2node writes every struct field; we, like TarsCpp, omit optional fields equal to
    /// their IDL default.
    DefaultFields,
}

struct Case {
    ty: String,
    tag: u8,
    json: Value,
    ours: Bytes,
    differ: Option<BytesDiffer>,
    /// Decodes bytes as the case's Rust type and compares with its value.
    check_decode: Box<dyn Fn(Bytes) -> Result<(), String>>,
}

fn case<T: Peer + Clone>(tag: u8, v: T) -> Case {
    let ours = to_bytes(tag, &v);
    let json = v.json();
    let check_decode = Box::new(move |bytes: Bytes| match from_bytes::<T>(tag, bytes) {
        Ok(back) if back == v => Ok(()),
        Ok(back) => Err(format!("we decoded {back:?}, expected {v:?}")),
        Err(e) => Err(format!("we cannot decode it: {e}")),
    });
    Case {
        ty: T::idl(),
        tag,
        json,
        ours,
        differ: None,
        check_decode,
    }
}

impl Case {
    fn differ(mut self, why: BytesDiffer) -> Case {
        self.differ = Some(why);
        self
    }
}

/// One case per tag.
fn at_all_tags<T: Peer + Clone>(v: T) -> Vec<Case> {
    TAGS.iter().map(|&tag| case(tag, v.clone())).collect()
}

/// JSON equality where numbers compare by value (Tars.js prints the double 0.0 as `0`), and
/// doubles within 2 ulp: without its `float_roundtrip` feature serde_json may parse a number
/// to a neighbouring double (3.000000005497756e38 is one). The bytes themselves are compared
/// exactly, and our decoding of Tars.js's bytes bit for bit.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= x.abs() * 2.0 * f64::EPSILON
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// A map value's entries sorted by key, for comparing maps whose order may differ.
fn sorted_entries(v: &Value) -> Value {
    let mut entries = v.as_array().cloned().unwrap_or_default();
    entries.sort_by_key(|e| e[0].to_string());
    Value::Array(entries)
}

/// Runs `tests/node/codec_peer.js` (installing its npm packages first if needed) on one batch
/// of requests and returns its answers.
fn codec_peer(requests: &Value) -> Vec<Value> {
    let mut child = common::node("codec_peer.js", &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start node: the Tars.js golden tests need Node.js (>= 18) on PATH: {e}")
        });
    let mut stdin = child.stdin.take().expect("node stdin");
    let input = requests.to_string();
    // Write from another thread so that a large answer cannot deadlock against the input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("codec_peer output");
    writer
        .join()
        .expect("stdin writer")
        .expect("write codec_peer stdin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "codec_peer.js failed ({}): {stderr}",
        out.status
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Array(answers)) => answers,
        other => panic!("codec_peer.js did not answer a JSON array ({other:?}); stderr: {stderr}"),
    }
}

/// Sends every case to codec_peer.js in one batch (an encode and a decode each) and checks the
/// three directions; panics with every mismatch found.
fn check(cases: Vec<Case>) {
    let mut requests = Vec::new();
    for c in &cases {
        requests.push(json!({"op": "encode", "type": c.ty, "tag": c.tag, "value": c.json}));
        requests.push(json!({"op": "decode", "type": c.ty, "tag": c.tag, "hex": hex(&c.ours)}));
    }
    let results = codec_peer(&Value::Array(requests));
    assert_eq!(
        results.len(),
        2 * cases.len(),
        "codec_peer answered {} of {} requests",
        results.len(),
        2 * cases.len()
    );

    let mut failures = Vec::new();
    for (c, answer) in cases.iter().zip(results.chunks(2)) {
        let (encoded, decoded) = (&answer[0], &answer[1]);
        let theirs = encoded["hex"].as_str().unwrap_or("");
        let mut problems = Vec::new();
        match encoded.get("hex").and_then(Value::as_str) {
            None => problems.push(format!("Tars.js cannot encode it: {encoded}")),
            Some(theirs) => {
                if c.differ.is_none() && theirs != hex(&c.ours) {
                    problems.push("the bytes differ".to_string());
                }
                let bytes: Vec<u8> = (0..theirs.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&theirs[i..i + 2], 16).expect("codec_peer hex"))
                    .collect();
                if let Err(e) = (c.check_decode)(Bytes::from(bytes)) {
                    problems.push(format!("their bytes: {e}"));
                }
            }
        }
        match decoded.get("value") {
            None => problems.push(format!("Tars.js cannot decode our bytes: {decoded}")),
            Some(value) => {
                let same = if c.differ == Some(BytesDiffer::MapOrder) {
                    same_json(&sorted_entries(value), &sorted_entries(&c.json))
                } else {
                    same_json(value, &c.json)
                };
                if !same {
                    problems.push(format!("Tars.js decodes our bytes to {}", value));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} at tag {}, value {}{}: {}\n    ours:   {}\n    theirs: {}",
                c.ty,
                c.tag,
                c.json,
                c.differ
                    .map(|d| format!(" (bytes may differ: {d:?})"))
                    .unwrap_or_default(),
                problems.join("; "),
                hex(&c.ours),
                theirs
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with @tars/stream:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The integer edges of the protocol's width boundaries.
const EDGES: [i64; 22] = [
    0,
    1,
    -1,
    127,
    128,
    -128,
    -129,
    255,
    256,
    32767,
    32768,
    -32768,
    -32769,
    65535,
    65536,
    (1 << 31) - 1,
    1 << 31,
    -(1 << 31),
    -(1 << 31) - 1,
    u32::MAX as i64,
    i64::MAX,
    i64::MIN,
];

#[test]
fn integers_and_bools() {
    let mut cases = Vec::new();
    for v in EDGES {
        if let Ok(v) = i8::try_from(v) {
            cases.extend(at_all_tags(v));
        }
        if let Ok(v) = i16::try_from(v) {
            cases.extend(at_all_tags(v));
        }
        if let Ok(v) = i32::try_from(v) {
            cases.extend(at_all_tags(v));
        }
        cases.extend(at_all_tags(v));
        if let Ok(v) = u8::try_from(v) {
            cases.extend(at_all_tags(v));
        }
        if let Ok(v) = u16::try_from(v) {
            cases.extend(at_all_tags(v));
        }
        if let Ok(v) = u32::try_from(v) {
            cases.extend(at_all_tags(v));
        }
    }
    cases.extend(at_all_tags(true));
    cases.extend(at_all_tags(false));
    for color in [
        Color::Red,
        Color::Green,
        Color::Blue,
        Color::Unknown(7),
        Color::Unknown(-70000),
    ] {
        cases.extend(at_all_tags(color));
    }
    check(cases);
}

#[test]
fn floats() {
    let mut cases = Vec::new();
    for v in [
        1.0f32,
        -2.5,
        0.1,
        3.0e38,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1.0e-45,
        16777217.0,
    ] {
        cases.extend(at_all_tags(v));
    }
    for v in [
        1.0f64,
        -2.5,
        0.1,
        1.0e308,
        f64::MAX,
        f64::MIN_POSITIVE,
        5.0e-324,
        9007199254740993.0,
    ] {
        cases.extend(at_all_tags(v));
    }
    // 0.0 and -0.0: Tars.js writes ZeroTag, we write zero bytes as TarsCpp does; compare the
    // decoded values only.
    for tag in TAGS {
        cases.push(case(tag, 0.0f32).differ(BytesDiffer::ZeroFloat));
        cases.push(case(tag, -0.0f32).differ(BytesDiffer::ZeroFloat));
        cases.push(case(tag, 0.0f64).differ(BytesDiffer::ZeroFloat));
        cases.push(case(tag, -0.0f64).differ(BytesDiffer::ZeroFloat));
    }
    check(cases);
}

#[test]
fn strings_and_bytes() {
    let mut cases = Vec::new();
    let mut strings: Vec<String> = vec![String::new(), "a".into(), "hello, world".into()];
    strings.extend([255, 256, 300].map(|n| "x".repeat(n)));
    // UTF-8: lengths count bytes, so 127 "é" (254 bytes) + "ab" crosses to String4 at 256.
    strings.push("héllo wörld ✓ 日本語 🎉".into());
    strings.push("é".repeat(127) + "a");
    strings.push("é".repeat(127) + "ab");
    strings.push("🎉".repeat(100));
    for s in strings {
        cases.extend(at_all_tags(s));
    }
    for n in [0usize, 1, 2, 127, 128, 255, 256, 300] {
        cases.extend(at_all_tags(
            (0..n).map(|i| (i * 7 + 3) as u8).collect::<Vec<u8>>(),
        ));
    }
    cases.extend(at_all_tags(vec![0u8; 5]));
    cases.extend(at_all_tags(vec![0xffu8; 3]));
    check(cases);
}

#[test]
fn containers() {
    let s = |x: &str| x.to_string();
    let mut cases = Vec::new();
    cases.extend(at_all_tags(Vec::<i32>::new()));
    cases.extend(at_all_tags(vec![
        1i32,
        -1,
        127,
        128,
        -129,
        300,
        70000,
        i32::MIN,
        i32::MAX,
        5,
    ]));
    cases.extend(at_all_tags(Vec::<String>::new()));
    cases.extend(at_all_tags(vec![s("a"), s(""), "y".repeat(256), s("日本")]));
    cases.extend(at_all_tags(vec![i64::MIN, -1, 1 << 40, i64::MAX]));
    cases.extend(at_all_tags(vec![true, false, true]));
    cases.extend(at_all_tags(vec![1.5f64, -1.0e-300]));
    cases.extend(at_all_tags(vec![vec![1u8, 2], vec![], vec![255u8; 3]]));
    cases.extend(at_all_tags(vec![
        vec![s("a")],
        vec![],
        vec![s("b"), s("c")],
    ]));
    cases.extend(at_all_tags(BTreeMap::<String, String>::new()));
    cases.extend(at_all_tags(BTreeMap::from([
        (s("a"), s("1")),
        (s("b"), s("")),
        (s("c"), "z".repeat(300)),
    ])));
    cases.extend(at_all_tags(BTreeMap::from([
        (0i32, s("zero")),
        (1, s("one")),
        (300, s("big")),
    ])));
    cases.extend(at_all_tags(BTreeMap::from([
        (s("k"), i64::MIN),
        (s("m"), 0),
        (s("n"), i64::MAX),
    ])));
    // Nested containers.
    cases.extend(at_all_tags(BTreeMap::from([
        (s("a"), vec![1i32, 2, 3]),
        (s("b"), vec![]),
        (s("c"), vec![-70000]),
    ])));
    cases.extend(at_all_tags(vec![
        BTreeMap::from([(s("x"), 1i32)]),
        BTreeMap::new(),
    ]));
    cases.extend(at_all_tags(BTreeMap::from([
        (1i32, BTreeMap::from([(s("bin"), vec![0xABu8, 0xCD])])),
        (2, BTreeMap::new()),
    ])));
    cases.extend(at_all_tags(BTreeMap::from([(
        s("deep"),
        vec![vec![s("x")], vec![]],
    )])));
    // Entry order differs (JS object key order), the entries do not.
    for tag in TAGS {
        let negative_keys = BTreeMap::from([(-1i32, s("a")), (10, s("b")), (2, s("c"))]);
        cases.push(case(tag, negative_keys).differ(BytesDiffer::MapOrder));
        let numeric_strings = BTreeMap::from([(s("10"), 1i32), (s("9"), 2)]);
        cases.push(case(tag, numeric_strings).differ(BytesDiffer::MapOrder));
        let long_keys = BTreeMap::from([(i64::MIN, s("min")), (5, s("five"))]);
        cases.push(case(tag, long_keys).differ(BytesDiffer::MapOrder));
        // A 0.0 inside a list is ZeroTag in Tars.js too.
        cases.push(case(tag, vec![0.0f64, 1.0]).differ(BytesDiffer::ZeroFloat));
    }
    check(cases);
}

fn person(name: &str, age: i32) -> Person {
    Person {
        name: name.into(),
        age,
        tags: vec!["t1".into(), format!("{name}-tag")],
        scores: BTreeMap::from([("math".into(), 1i64 << 40), ("art".into(), -3)]),
    }
}

/// Every optional field set to a non-default value, so that tars2node's write-everything and
/// our omit-defaults give the same bytes.
fn all_types() -> AllTypes {
    AllTypes {
        b: true,
        i8v: -128,
        i16v: i16::MIN,
        i32v: 70000,
        i64v: i64::MIN,
        f32v: 1.5,
        f64v: -0.1,
        s: "ünïcode".into(),
        bin: vec![0, 1, 0xfe, 0xff],
        ints: vec![1, -1, 1 << 20],
        dict: BTreeMap::from([("a".into(), "b".into()), ("c".into(), "".into())]),
        people: vec![person("ann", 31), person("bob", 0), person("", -1)],
        u32v: u32::MAX,
        color: Color::Blue,
        by_id: BTreeMap::from([(0, person("zero", 1)), (7, person("seven", 70000))]),
        far_tag: "far".into(),
    }
}

#[test]
fn structs() {
    let mut cases = Vec::new();
    // A Person has no default-valued optional field only when its tags and scores are set.
    cases.extend(at_all_tags(person("ann", 31)));
    cases.extend(at_all_tags(person(&"n".repeat(300), i32::MIN)));
    cases.extend(at_all_tags(all_types()));
    cases.extend(at_all_tags(AllTypes {
        color: Color::Unknown(42),
        ..all_types()
    }));
    // Vectors and maps of structs.
    cases.extend(at_all_tags(vec![person("a", 1), person("b", 2)]));
    cases.extend(at_all_tags(BTreeMap::from([
        (1i32, all_types()),
        (2, all_types()),
    ])));
    // Structs with default-valued optional fields: Tars.js writes them, we do not; each side
    // must decode the other's bytes to the same value.
    for tag in TAGS {
        cases.push(
            case(
                tag,
                Person {
                    name: "x".into(),
                    age: 0,
                    tags: vec![],
                    scores: BTreeMap::new(),
                },
            )
            .differ(BytesDiffer::DefaultFields),
        );
        cases.push(case(tag, AllTypes::default()).differ(BytesDiffer::DefaultFields));
        let some = AllTypes {
            i32v: 5,
            people: vec![Person {
                name: "p".into(),
                age: 1,
                tags: vec![],
                scores: BTreeMap::new(),
            }],
            color: Color::Red,
            ..AllTypes::default()
        };
        cases.push(case(tag, some).differ(BytesDiffer::DefaultFields));
        let zero_floats = AllTypes {
            f32v: 0.0,
            f64v: 0.0,
            ..all_types()
        };
        cases.push(case(tag, zero_floats).differ(BytesDiffer::DefaultFields));
    }
    check(cases);
}

/// The IDL defaults: a missing optional enum field is GREEN (its `= GREEN`), and the bytes of
/// an all-default AllTypes are the bool and the enum only (TarsCpp check-default).
#[test]
fn all_default_struct_bytes() {
    let d = AllTypes::default();
    assert_eq!(d.color, Color::Green);
    assert_eq!(hex(&to_bytes(0, &d)), "0a0cd0010b");
    let empty: AllTypes = from_bytes(0, Bytes::from_static(&[0x0A, 0x0B])).unwrap();
    assert_eq!(empty, d);
}

// ---------------------------------------------------------------------------------------------
// The same IDL generated from tars/Hello.tars by tars-build (build.rs).

mod generated {
    use super::*;
    use tars_core::TarsStruct;
    use tars_rs::generated::test as g;

    peer_scalar! {
        g::Color => "enum:Test.Color", |v| json!(v.value());
    }

    impl Peer for g::Person {
        fn idl() -> String {
            "struct:Test.Person".into()
        }
        fn json(&self) -> Value {
            json!({
                "name": self.name.json(), "age": self.age.json(),
                "tags": self.tags.json(), "scores": self.scores.json(),
            })
        }
    }

    impl Peer for g::AllTypes {
        fn idl() -> String {
            "struct:Test.AllTypes".into()
        }
        fn json(&self) -> Value {
            json!({
                "b": self.b.json(), "i8v": self.i8v.json(), "i16v": self.i16v.json(),
                "i32v": self.i32v.json(), "i64v": self.i64v.json(), "f32v": self.f32v.json(),
                "f64v": self.f64v.json(), "s": self.s.json(), "bin": self.bin.json(),
                "ints": self.ints.json(), "dict": self.dict.json(), "people": self.people.json(),
                "u32v": self.u32v.json(), "color": self.color.json(), "byId": self.by_id.json(),
                "farTag": self.far_tag.json(),
            })
        }
    }

    /// The generated twin of a hand-written value (same field values).
    fn twin<H: TarsStruct, G: TarsStruct>(h: &H) -> G {
        G::from_tars_bytes(h.to_tars_bytes()).expect("generated type reads the demo's bytes")
    }

    /// Generated structs write what `@tars/stream` writes for the same IDL, and read it.
    #[test]
    fn generated_structs() {
        let all: g::AllTypes = twin(&all_types());
        let unknown = g::AllTypes {
            color: g::Color::Unknown(42),
            ..all.clone()
        };
        let mut cases = Vec::new();
        cases.extend(at_all_tags::<g::Person>(twin(&person("ann", 31))));
        cases.extend(at_all_tags(all.clone()));
        cases.extend(at_all_tags(unknown));
        // Positive keys: Tars.js orders other map keys by insertion, not sorted.
        cases.extend(at_all_tags(BTreeMap::from([(1i32, all.clone()), (2, all)])));
        for tag in TAGS {
            cases.push(case(tag, g::AllTypes::default()).differ(BytesDiffer::DefaultFields));
        }
        check(cases);
    }
}
