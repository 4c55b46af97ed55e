//! Property tests of the TARS codec: every type round-trips, integers take their minimal
//! width, readers accept narrower encodings, and hostile or random input never panics, never
//! recurses without bound and never makes the decoder allocate more than the input justifies.

use bytes::Bytes;
use proptest::collection::{btree_map, hash_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use tars_core::codec::{from_bytes, to_bytes, DecodeErrorKind};
use tars_core::{
    TarsDecode, TarsEncode, TarsEnum, TarsReader, TarsStruct, TarsType, TarsValue, TarsWriter,
};

// ---------------------------------------------------------------------------------------------
// Allocation accounting: a global allocator that, while a thread has tracking on, records the
// peak number of bytes that thread allocated (net of what it freed) since tracking started.

struct TrackingAlloc;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = TRACKING.try_with(|on| {
        if on.get() {
            LIVE.with(|live| {
                live.set(live.get() + delta);
                PEAK.with(|peak| peak.set(peak.get().max(live.get())));
            });
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for TrackingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: TrackingAlloc = TrackingAlloc;

/// Runs `f` and returns its result with the peak heap bytes it held at any moment.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let result = f();
    TRACKING.with(|t| t.set(false));
    (result, PEAK.with(|p| p.get()).max(0) as usize)
}

/// What decoding `input_len` bytes may hold at most: a decoded value is bigger than its
/// encoding (a 1-byte ZeroTag becomes a 48-byte `TarsField`, vectors grow by doubling), but
/// only by a constant factor.
fn heap_budget(input_len: usize) -> usize {
    256 * input_len + 64 * 1024
}

// ---------------------------------------------------------------------------------------------
// Types under test.

#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Props.Leaf")]
struct Leaf {
    #[tars(tag = 0, require)]
    id: i64,
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 2, default = 7)]
    level: i32,
    #[tars(tag = 3)]
    on: bool,
    #[tars(tag = 4)]
    data: Vec<u8>,
}

// Rust wants a `repr` for explicit discriminants next to a tuple variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TarsEnum)]
#[repr(i32)]
enum Kind {
    A = 0,
    B = 1,
    C = 5,
    #[tars(unknown)]
    Unknown(i32),
}

#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Props.Tree")]
struct Tree {
    #[tars(tag = 0, require)]
    root: Leaf,
    #[tars(tag = 1)]
    leaves: Vec<Leaf>,
    #[tars(tag = 2)]
    index: BTreeMap<String, Leaf>,
    #[tars(tag = 3)]
    maybe: Option<Leaf>,
    #[tars(tag = 4)]
    maybe_list: Option<Vec<String>>,
    #[tars(tag = 5, default = "x")]
    label: String,
    #[tars(tag = 6, default = Kind::B)]
    kind: Kind,
    #[tars(tag = 7)]
    ratio: f64,
    #[tars(tag = 14)]
    u: u32,
    #[tars(tag = 15)]
    by_id: HashMap<i32, Vec<i64>>,
    #[tars(tag = 200)]
    far: i16,
    #[tars(tag = 255)]
    last: Option<u8>,
}

fn leaf() -> impl Strategy<Value = Leaf> {
    (
        any::<i64>(),
        ".{0,12}",
        any::<i32>(),
        any::<bool>(),
        vec(any::<u8>(), 0..24),
    )
        .prop_map(|(id, name, level, on, data)| Leaf {
            id,
            name,
            level,
            on,
            data,
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::A),
        Just(Kind::B),
        Just(Kind::C),
        // An undeclared value stays a number (declared ones decode as their variant).
        any::<i32>()
            .prop_filter("undeclared", |v| ![0, 1, 5].contains(v))
            .prop_map(Kind::Unknown),
    ]
}

/// Finite doubles: NaN makes `PartialEq` useless for the whole struct (NaN bits are checked on
/// their own below).
fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |v| v.is_finite())
}

fn tree() -> impl Strategy<Value = Tree> {
    (
        (
            leaf(),
            vec(leaf(), 0..6),
            btree_map(".{0,6}", leaf(), 0..4),
            proptest::option::of(leaf()),
            proptest::option::of(vec(".{0,6}", 0..4)),
            ".{0,8}",
        ),
        (
            kind(),
            finite_f64(),
            any::<u32>(),
            hash_map(any::<i32>(), vec(any::<i64>(), 0..4), 0..4),
            any::<i16>(),
            proptest::option::of(any::<u8>()),
        ),
    )
        .prop_map(
            |(
                (root, leaves, index, maybe, maybe_list, label),
                (kind, ratio, u, by_id, far, last),
            )| {
                Tree {
                    root,
                    leaves,
                    index,
                    maybe,
                    maybe_list,
                    label,
                    kind,
                    ratio,
                    u,
                    by_id,
                    far,
                    last,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Encodes `v` at `tag`, decodes it back, and checks that the value and the consumed length
/// match, then returns the encoding.
fn round_trip<T>(tag: u8, v: &T) -> Result<Bytes, TestCaseError>
where
    T: TarsEncode + TarsDecode + PartialEq + Debug,
{
    let bytes = to_bytes(tag, v);
    let mut r = TarsReader::new(bytes.clone());
    let back: T = r
        .read(tag)
        .map_err(|e| TestCaseError::fail(format!("{e} in {bytes:02x?}")))?;
    prop_assert_eq!(&back, v, "bytes {:02x?}", bytes);
    prop_assert!(
        r.is_empty(),
        "{} trailing bytes in {:02x?}",
        r.remaining(),
        bytes
    );
    Ok(bytes)
}

/// Bytes the head of `tag` takes.
fn head_len(tag: u8) -> usize {
    if tag < 15 {
        1
    } else {
        2
    }
}

/// The narrowest integer encoding of `v`: its wire type and payload length.
fn minimal_int(v: i64) -> (TarsType, usize) {
    if v == 0 {
        (TarsType::ZeroTag, 0)
    } else if i8::try_from(v).is_ok() {
        (TarsType::Int8, 1)
    } else if i16::try_from(v).is_ok() {
        (TarsType::Int16, 2)
    } else if i32::try_from(v).is_ok() {
        (TarsType::Int32, 4)
    } else {
        (TarsType::Int64, 8)
    }
}

/// Checks that `bytes` is one integer field at `tag` in the minimal encoding of `wire_value`.
fn assert_minimal(tag: u8, wire_value: i64, bytes: &[u8]) -> Result<(), TestCaseError> {
    let (ty, payload) = minimal_int(wire_value);
    prop_assert_eq!(
        bytes.len(),
        head_len(tag) + payload,
        "{} at tag {}: {:02x?}",
        wire_value,
        tag,
        bytes
    );
    prop_assert_eq!(
        bytes[0] & 0x0F,
        ty as u8,
        "{} at tag {}: {:02x?}",
        wire_value,
        tag,
        bytes
    );
    Ok(())
}

/// Decodes `input` in every way a peer might, asserting only that nothing panics and nothing
/// allocates out of proportion to the input.
fn decode_everything(input: &[u8]) -> Result<(), TestCaseError> {
    let buf = Bytes::copy_from_slice(input);
    let (_, peak) = peak_heap(|| {
        let _ = TarsValue::decode_all(buf.clone());
        let _ = Tree::from_tars_bytes(buf.clone());
        let _ = from_bytes::<Tree>(0, buf.clone());
        let _ = Leaf::from_tars_bytes(buf.clone());
        let _ = from_bytes::<Vec<String>>(0, buf.clone());
        let _ = from_bytes::<Vec<Leaf>>(1, buf.clone());
        let _ = from_bytes::<BTreeMap<String, Vec<i32>>>(0, buf.clone());
        let _ = from_bytes::<HashMap<i64, Bytes>>(2, buf.clone());
        let _ = from_bytes::<Vec<Vec<u8>>>(0, buf.clone());
        let mut r = TarsReader::new(buf.clone());
        while r.skip_any_field().is_ok() && !r.is_empty() {}
    });
    prop_assert!(
        peak <= heap_budget(input.len()),
        "decoding {} bytes held {} heap bytes: {:02x?}",
        input.len(),
        peak,
        input
    );
    Ok(())
}

/// Valid encodings with a few bytes overwritten and possibly cut short: reaches far deeper into
/// the decoders than uniformly random bytes do.
fn mutated_encoding() -> impl Strategy<Value = Vec<u8>> {
    (
        tree(),
        any::<bool>(),
        vec((any::<Index>(), any::<u8>()), 0..6),
        proptest::option::of(any::<Index>()),
    )
        .prop_map(|(tree, nested, mutations, cut)| {
            let mut bytes = if nested {
                to_bytes(0, &tree).to_vec()
            } else {
                tree.to_tars_bytes().to_vec()
            };
            for (at, byte) in mutations {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        })
}

// ---------------------------------------------------------------------------------------------
// Round trips and minimal widths.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_integers(tag: u8, a: i8, b: i16, c: i32, d: i64) {
        assert_minimal(tag, a as i64, &round_trip(tag, &a)?)?;
        assert_minimal(tag, b as i64, &round_trip(tag, &b)?)?;
        assert_minimal(tag, c as i64, &round_trip(tag, &c)?)?;
        assert_minimal(tag, d, &round_trip(tag, &d)?)?;
    }

    /// Unsigned types travel as the next wider signed type, then compacted.
    #[test]
    fn unsigned_integers(tag: u8, a: u8, b: u16, c: u32, flag: bool) {
        assert_minimal(tag, a as i64, &round_trip(tag, &a)?)?;
        assert_minimal(tag, b as i64, &round_trip(tag, &b)?)?;
        assert_minimal(tag, c as i64, &round_trip(tag, &c)?)?;
        assert_minimal(tag, flag as i64, &round_trip(tag, &flag)?)?;
    }

    /// Width edges, where an off-by-one in the compaction would show.
    #[test]
    fn integer_edges(tag: u8, edge in prop::sample::select(vec![
        0i64, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769,
        65535, 65536, i32::MAX as i64, i32::MAX as i64 + 1, i32::MIN as i64, i32::MIN as i64 - 1,
        u32::MAX as i64, i64::MAX, i64::MIN,
    ]), delta in -2i64..=2) {
        let v = edge.saturating_add(delta);
        assert_minimal(tag, v, &round_trip(tag, &v)?)?;
        if let Ok(v) = i32::try_from(v) {
            assert_minimal(tag, v as i64, &round_trip(tag, &v)?)?;
        }
        if let Ok(v) = u32::try_from(v) {
            assert_minimal(tag, v as i64, &round_trip(tag, &v)?)?;
        }
    }

    /// A reader accepts any width up to its own (sign-extended), and refuses wider ones.
    #[test]
    fn readers_accept_narrower_widths(tag: u8, v: i16) {
        let mut w = TarsWriter::new();
        w.write_head(tag, TarsType::Int16);
        w.buf_mut().extend_from_slice(&v.to_be_bytes());
        let bytes = w.into_bytes();
        prop_assert_eq!(from_bytes::<i16>(tag, bytes.clone()).unwrap(), v);
        prop_assert_eq!(from_bytes::<i32>(tag, bytes.clone()).unwrap(), v as i32);
        prop_assert_eq!(from_bytes::<i64>(tag, bytes.clone()).unwrap(), v as i64);
        let err = from_bytes::<i8>(tag, bytes).unwrap_err();
        prop_assert!(matches!(err.kind(), DecodeErrorKind::TypeMismatch { .. }), "{}", err);
    }

    /// Floats are never compacted (not even 0.0) and round-trip bit for bit, NaN payloads
    /// included; a double reader widens a float exactly.
    #[test]
    fn floats_bit_exact(tag: u8, fbits: u32, dbits: u64) {
        let f = f32::from_bits(fbits);
        let d = f64::from_bits(dbits);
        let fb = to_bytes(tag, &f);
        let db = to_bytes(tag, &d);
        prop_assert_eq!(fb.len(), head_len(tag) + 4);
        prop_assert_eq!(db.len(), head_len(tag) + 8);
        prop_assert_eq!(from_bytes::<f32>(tag, fb.clone()).unwrap().to_bits(), fbits);
        prop_assert_eq!(from_bytes::<f64>(tag, db.clone()).unwrap().to_bits(), dbits);
        let widened = from_bytes::<f64>(tag, fb.clone()).unwrap();
        prop_assert!(widened == f as f64 || (widened.is_nan() && f.is_nan()));
        // Schema-less values keep the bits too.
        match &TarsValue::decode_all(fb).unwrap()[0].value {
            TarsValue::Float(x) => prop_assert_eq!(x.to_bits(), fbits),
            other => prop_assert!(false, "{:?}", other),
        }
        match &TarsValue::decode_all(db).unwrap()[0].value {
            TarsValue::Double(x) => prop_assert_eq!(x.to_bits(), dbits),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// String1 up to 255 bytes, String4 from 256.
    #[test]
    fn strings(tag: u8, s in ".{0,40}", long_len in 200usize..600, ch in any::<char>()) {
        round_trip(tag, &s)?;
        let long = ch.to_string().repeat(long_len / ch.len_utf8());
        let bytes = round_trip(tag, &long)?;
        let (ty, len_bytes) = if long.len() <= 255 { (TarsType::String1, 1) } else { (TarsType::String4, 4) };
        prop_assert_eq!(bytes[0] & 0x0F, ty as u8);
        prop_assert_eq!(bytes.len(), head_len(tag) + len_bytes + long.len());
    }

    /// `Vec<u8>` is a SimpleList: head, `00`, the length as a compacted int, the raw bytes.
    #[test]
    fn byte_vectors(tag: u8, v in vec(any::<u8>(), 0..600)) {
        let bytes = round_trip(tag, &v)?;
        prop_assert_eq!(bytes[0] & 0x0F, TarsType::SimpleList as u8);
        let (_, len_payload) = minimal_int(v.len() as i64);
        prop_assert_eq!(bytes.len(), head_len(tag) + 1 + 1 + len_payload + v.len());
        prop_assert_eq!(&bytes[bytes.len() - v.len()..], &v[..]);
        round_trip(tag, &Bytes::from(v.clone()))?;
        round_trip(tag, &v.iter().map(|&b| b as i8).collect::<Vec<i8>>())?;
    }

    #[test]
    fn containers(
        tag: u8,
        ints in vec(any::<i32>(), 0..40),
        strings in vec(".{0,10}", 0..10),
        bools in vec(any::<bool>(), 0..10),
        blobs in vec(vec(any::<u8>(), 0..10), 0..5),
        nested in vec(vec(any::<i64>(), 0..5), 0..5),
        bmap in btree_map(".{0,6}", any::<i64>(), 0..10),
        hmap in hash_map(any::<i32>(), ".{0,6}", 0..10),
        deep in btree_map(".{0,4}", vec(btree_map(any::<u16>(), any::<bool>(), 0..3), 0..3), 0..3),
    ) {
        round_trip(tag, &ints)?;
        round_trip(tag, &strings)?;
        round_trip(tag, &bools)?;
        round_trip(tag, &blobs)?;
        round_trip(tag, &nested)?;
        round_trip(tag, &bmap)?;
        round_trip(tag, &hmap)?;
        round_trip(tag, &deep)?;
        // A HashMap is written in sorted key order, byte for byte what a BTreeMap gives.
        let sorted: BTreeMap<i32, String> = hmap.clone().into_iter().collect();
        prop_assert_eq!(to_bytes(tag, &hmap), to_bytes(tag, &sorted));
    }

    /// A derived struct with nested structs, vectors and maps of structs, options, an open enum,
    /// defaults and tags from 0 to 255, as a top-level struct and nested at any tag.
    #[test]
    fn derived_struct(tag: u8, t in tree()) {
        let top = t.to_tars_bytes();
        prop_assert_eq!(Tree::from_tars_bytes(top.clone()).unwrap(), t.clone(), "bytes {:02x?}", top);
        let nested = round_trip(tag, &t)?;
        prop_assert_eq!(nested.len(), head_len(tag) + top.len() + 1, "StructBegin + fields + StructEnd");
        // Our encodings are canonical, so a schema-less decode writes them back unchanged.
        let mut again = TarsWriter::new();
        for f in TarsValue::decode_all(nested.clone()).unwrap() {
            f.value.encode(&mut again, f.tag);
        }
        prop_assert_eq!(again.as_slice(), &nested[..]);
        // Fields are written in ascending tag order.
        let tags: Vec<u8> = TarsValue::decode_all(top).unwrap().iter().map(|f| f.tag).collect();
        prop_assert!(tags.windows(2).all(|w| w[0] < w[1]), "{:?}", tags);
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(input in vec(any::<u8>(), 0..256)) {
        decode_everything(&input)?;
    }

    #[test]
    fn mutated_encodings_never_panic(input in mutated_encoding()) {
        decode_everything(&input)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Nesting past the limit is an error, never a stack overflow, whether decoded
    /// schema-less or skipped as an unknown field of a struct.
    #[test]
    fn deep_nesting_is_bounded(depth in 1usize..400, kind in 0usize..3) {
        // Each level's opener, at the tag its parent expects; then the innermost value.
        let (opener, innermost, closer): (&[u8], u8, &[u8]) = match kind {
            0 => (&[0x0A], 0x0C, &[0x0B]),                // struct { 0: struct { ... } }
            1 => (&[0x09, 0x00, 0x01], 0x0C, &[]),        // list of one list of ...
            _ => (&[0x18, 0x00, 0x01, 0x0C], 0x1C, &[]),  // map {0: map {0: ...}}
        };
        let mut value = opener.repeat(depth);
        value.push(innermost);
        value.extend(closer.repeat(depth));
        // Tree.root (an empty Leaf) at tag 0, the nested value at tag 8, which Tree does not
        // know and so skips, then Tree.u at tag 14.
        let mut input = vec![0x0A, 0x0C, 0x0B, 0x80 | (value[0] & 0x0F)];
        input.extend_from_slice(&value[1..]);
        input.push(0xEC);
        let schemaless = TarsValue::decode_all(input.clone());
        let typed = Tree::from_tars_bytes(input.clone());
        if depth <= tars_core::codec::MAX_DEPTH {
            prop_assert!(schemaless.is_ok(), "{:?}", schemaless);
            prop_assert!(typed.is_ok(), "{:?}", typed);
        } else {
            let (schemaless, typed) = (schemaless.unwrap_err(), typed.unwrap_err());
            prop_assert_eq!(schemaless.kind(), &DecodeErrorKind::TooDeep);
            prop_assert_eq!(typed.kind(), &DecodeErrorKind::TooDeep);
        }
    }
}

/// Lengths and counts far beyond the input (2^31 and 2^31-1) are errors, and the decoder does
/// not allocate for them.
#[test]
fn huge_lengths_are_refused_without_allocating() {
    let cases: &[(&str, &str)] = &[
        ("string4 of 2^31 bytes", "07 80000000 61"),
        ("string4 of 2^32-1 bytes", "07 ffffffff 61"),
        ("list of 2^31-1", "09 02 7fffffff 00 01"),
        (
            "list counted by an int64 2^31",
            "09 03 0000000080000000 00 01",
        ),
        ("map of 2^31-1", "08 02 7fffffff 0c 1c"),
        ("simple list of 2^31-1", "0d 00 02 7fffffff 01"),
        (
            "simple list counted by an int64 2^31",
            "0d 00 03 0000000080000000 01",
        ),
        ("list of 2^31-1 structs", "09 02 7fffffff 0a 0c 0b"),
    ];
    for (what, hex) in cases {
        let hex: String = hex.split_whitespace().collect();
        let input: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let buf = Bytes::from(input.clone());
        let (results, peak) = peak_heap(|| {
            [
                TarsValue::decode_all(buf.clone()).err(),
                from_bytes::<String>(0, buf.clone()).err(),
                from_bytes::<Vec<Leaf>>(0, buf.clone()).err(),
                from_bytes::<Vec<i64>>(0, buf.clone()).err(),
                from_bytes::<Vec<u8>>(0, buf.clone()).err(),
                from_bytes::<BTreeMap<i32, i32>>(0, buf.clone()).err(),
                from_bytes::<HashMap<i32, Leaf>>(0, buf.clone()).err(),
            ]
        });
        assert!(
            results.iter().all(Option::is_some),
            "{what}: decoded {results:?}"
        );
        assert!(peak < 4096, "{what}: held {peak} heap bytes");
        // Inside a struct, and skipped as an unknown field, it is an error too.
        let mut in_struct = vec![0x0A, 0x0C, 0x0B]; // Tree.root
        in_struct.push(0x10 | input[0]); // the hostile field at tag 1 (Tree.leaves)...
        in_struct.extend_from_slice(&input[1..]);
        let (tree, peak) = peak_heap(|| Tree::from_tars_bytes(in_struct.clone()).is_err());
        assert!(
            tree && peak < 4096,
            "{what} as Tree.leaves: error {tree}, {peak} heap bytes"
        );
        in_struct[3] = 0x80 | input[0]; // ...and at tag 8, which Tree does not know
        let (tree, peak) = peak_heap(|| Tree::from_tars_bytes(in_struct.clone()).is_err());
        assert!(
            tree && peak < 4096,
            "{what} skipped: error {tree}, {peak} heap bytes"
        );
    }
}

/// The derive omits optional fields equal to their IDL default, keeps them on read, and an
/// all-default struct is just its require field plus the always-written bool/struct/enum.
#[test]
fn defaults_are_omitted_and_restored() {
    let t = Tree::default();
    assert_eq!(t.label, "x");
    assert_eq!(t.kind, Kind::B);
    assert_eq!(t.root.level, 7);
    let bytes = t.to_tars_bytes();
    // root {0: 0 (ZeroTag), 3: false (ZeroTag)} and kind 1 at tag 6; nothing else.
    assert_eq!(&bytes[..], &[0x0A, 0x0C, 0x3C, 0x0B, 0x60, 0x01]);
    assert_eq!(Tree::from_tars_bytes(bytes).unwrap(), t);
}
