//! Peak memory of decoding 10 MiB frames, measured by a counting global allocator (this file is
//! its own test binary, so the allocator sees only these tests).
//!
//! A list or map count is only known to fit the bytes left, and an element can be far larger in
//! memory than on the wire (an empty `AllTypes` is 2 bytes on the wire, hundreds in memory), so
//! the decoder must not reserve `count × size_of::<T>()` up front: a hostile frame that claims
//! millions of elements and fails after a few must cost about its own size, and an honest frame
//! of tiny elements must cost about what it decodes to.

use bytes::{Bytes, BytesMut};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;
use tars_core::codec::{from_bytes, TarsField};
use tars_core::{DecodeError, TarsDecode, TarsEncode, TarsStruct, TarsValue, TarsWriter};
use tars_rs::demo::hello::{AllTypes, Person};

// ---------------------------------------------------------------------------------------------
// A global allocator that, while a thread has tracking on, records the peak number of bytes the
// thread held (allocated net of freed) since tracking started. A `realloc` counts as holding the
// old and the new block at once, as a copying reallocation does.

struct CountingAlloc;

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
unsafe impl GlobalAlloc for CountingAlloc {
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
        note(new_size as isize);
        note(-(layout.size() as isize));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the peak heap bytes the thread held meanwhile
/// (including the result itself).
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let result = f();
    TRACKING.with(|t| t.set(false));
    (result, PEAK.with(|p| p.get()).max(0) as usize)
}

const FRAME: usize = 10 << 20;

/// `head` followed by `fill` bytes up to exactly [`FRAME`] bytes.
fn pad_to_frame(head: &[u8], fill: u8) -> Bytes {
    assert!(head.len() < FRAME);
    let mut buf = BytesMut::with_capacity(FRAME);
    buf.extend_from_slice(head);
    buf.resize(FRAME, fill);
    buf.freeze()
}

/// A few real `AllTypes`, each with a little data.
fn some_all_types() -> Vec<AllTypes> {
    (0..3)
        .map(|i| {
            let mut v = AllTypes::from_tars_bytes(Bytes::new()).unwrap();
            v.i32v = i;
            v.s = format!("element {i}");
            v
        })
        .collect()
}

/// Decodes `frame` with `decode`, expecting an error; when the peak heap held exceeds twice the
/// frame size, records why in `failures`.
fn check_refused_cheaply<F>(failures: &mut Vec<String>, what: &str, frame: Bytes, decode: F)
where
    F: FnOnce(Bytes) -> Result<(), DecodeError>,
{
    assert_eq!(frame.len(), FRAME);
    let (result, peak) = peak_heap(|| decode(frame.clone()));
    let err = result.expect_err(what);
    println!("{what}: refused ({err}), peak {peak} bytes for a {FRAME}-byte frame");
    if peak > 2 * FRAME {
        failures.push(format!("{what}: held {peak} heap bytes"));
    }
}

/// [`check_refused_cheaply`] for the field at tag 0 decoded as `T`.
fn check_typed<T: TarsDecode>(failures: &mut Vec<String>, what: &str, frame: Bytes) {
    check_refused_cheaply(failures, what, frame, |f| from_bytes::<T>(0, f).map(|_| ()));
}

#[test]
fn hostile_counts_cost_about_the_frame() {
    // Every count below fits the bytes left (one byte per element at least), so only the
    // decoding of the elements themselves can refuse the frame.
    let claimed = 10_000_000;
    println!(
        "size_of: AllTypes {}, Person {}, TarsField {}",
        size_of::<AllTypes>(),
        size_of::<Person>(),
        size_of::<TarsField>()
    );
    let mut failures = Vec::new();
    let f = &mut failures;

    // vector<AllTypes>: three real elements, then int8 zero bytes where a struct must be.
    let mut w = TarsWriter::new();
    w.write_list_header(0, claimed);
    for v in some_all_types() {
        v.encode(&mut w, 0);
    }
    let frame = pad_to_frame(w.as_slice(), 0);
    check_typed::<Vec<AllTypes>>(f, "vector<AllTypes>", frame);

    // vector<AllTypes> whose first element holds a vector<Person> that also claims millions:
    // both lists are being filled when the frame turns out bad.
    let mut w = TarsWriter::new();
    w.write_list_header(0, claimed);
    w.write_struct_begin(0);
    w.write_list_header(11, claimed - 100);
    let frame = pad_to_frame(w.as_slice(), 0);
    check_typed::<Vec<AllTypes>>(f, "nested vector<Person>", frame);

    // map<int, AllTypes>: one entry, then a string where the next key must be.
    let mut w = TarsWriter::new();
    w.write_map_header(0, claimed / 2);
    w.write_i32(0, 1);
    some_all_types()[0].encode(&mut w, 1);
    w.write_str(0, "not a key");
    let frame = pad_to_frame(w.as_slice(), 0);
    check_typed::<HashMap<i32, AllTypes>>(f, "map<int, AllTypes> (HashMap)", frame.clone());
    check_typed::<BTreeMap<i32, AllTypes>>(f, "map<int, AllTypes> (BTreeMap)", frame);

    // vector<string>: a few strings, then int8 zero bytes.
    let mut w = TarsWriter::new();
    w.write_list_header(0, claimed);
    w.write_str(0, "a");
    w.write_str(0, "b");
    check_typed::<Vec<String>>(f, "vector<string>", pad_to_frame(w.as_slice(), 0));

    // vector<byte> sent as a List of int8: zero bytes are int8 fields at tag 0, so spell the
    // bad element as a string.
    let mut w = TarsWriter::new();
    w.write_list_header(0, claimed);
    w.write_i8(0, 7);
    w.write_str(0, "not a byte");
    check_typed::<Vec<u8>>(f, "vector<byte> as List", pad_to_frame(w.as_slice(), 0));
    check_typed::<Vec<i8>>(f, "vector<i8> as List", pad_to_frame(w.as_slice(), 0));
    check_typed::<Bytes>(f, "Bytes as List", pad_to_frame(w.as_slice(), 0));

    // Schema-less: a List and a Map whose elements turn into an invalid type nibble (0xFF).
    for (what, is_list) in [("schema-less list", true), ("schema-less map", false)] {
        let mut w = TarsWriter::new();
        if is_list {
            w.write_list_header(0, claimed);
        } else {
            w.write_map_header(0, claimed / 2);
        }
        w.write_i32(0, 1);
        w.write_i32(1, 2);
        let frame = pad_to_frame(w.as_slice(), 0xFF);
        check_refused_cheaply(f, what, frame, |b| TarsValue::decode_all(b).map(|_| ()));
    }

    assert!(failures.is_empty(), "{failures:#?}");
}

/// A small struct: 8 bytes in memory, 4 on the wire when both fields are zero.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Test.Small")]
struct Small {
    #[tars(tag = 0, require)]
    id: i32,
    #[tars(tag = 1, require)]
    flag: bool,
}

/// Decodes `frame`, checks it yields `n` elements, and that the peak heap held stays within
/// three times `real` bytes (the decoded data: growth by doubling, while a copying reallocation
/// holds both blocks) plus the frame.
fn assert_decodes_in_proportion<T, F>(what: &str, frame: Bytes, n: usize, real: usize, decode: F)
where
    F: FnOnce(Bytes) -> Result<Vec<T>, DecodeError>,
{
    let (result, peak) = peak_heap(|| decode(frame.clone()));
    let items = result.expect(what);
    assert_eq!(items.len(), n, "{what}");
    drop(items);
    println!("{what}: {n} elements, {real} bytes decoded, peak {peak} bytes");
    assert!(
        peak <= 3 * real + FRAME,
        "{what}: decoding {real} bytes of data held {peak} heap bytes"
    );
}

/// A List at tag 0 of `n` copies of `element` (a field at tag 0), padded to the frame size
/// with int8 fields at tag 1, which the reader skips.
fn list_frame(element: &[u8]) -> (Bytes, usize) {
    // The list header takes at most 7 bytes, the trailer head (an int8 field at tag 1) 2.
    let n = (FRAME - 16) / element.len();
    let mut w = TarsWriter::new();
    w.write_list_header(0, n);
    let mut buf = w.into_inner();
    for _ in 0..n {
        buf.extend_from_slice(element);
    }
    // Fill the rest with int8 fields at tag 1, which the reader skips after the list.
    while buf.len() + 2 <= FRAME {
        buf.extend_from_slice(&[0x10, 0]);
    }
    if buf.len() < FRAME {
        buf.extend_from_slice(&[0x1C]);
    }
    assert_eq!(buf.len(), FRAME);
    (buf.freeze(), n)
}

#[test]
fn honest_frames_of_tiny_elements_cost_about_what_they_decode_to() {
    // vector<int> of zeros: one byte (a ZeroTag head) per element.
    let (frame, n) = list_frame(&[0x0C]);
    assert_decodes_in_proportion(
        "vector<int> of zeros",
        frame,
        n,
        n * size_of::<i32>(),
        |f| from_bytes::<Vec<i32>>(0, f),
    );

    // vector<Small>: StructBegin, two ZeroTag fields, StructEnd.
    let (frame, n) = list_frame(&[0x0A, 0x0C, 0x1C, 0x0B]);
    assert_decodes_in_proportion("vector<Small>", frame, n, n * size_of::<Small>(), |f| {
        from_bytes::<Vec<Small>>(0, f)
    });

    // vector<string> of empty strings: a String1 head and a zero length.
    let (frame, n) = list_frame(&[0x06, 0x00]);
    assert_decodes_in_proportion("vector<string>", frame, n, n * size_of::<String>(), |f| {
        from_bytes::<Vec<String>>(0, f)
    });

    // vector<byte> sent as a List of int8 zeros.
    let (frame, n) = list_frame(&[0x0C]);
    assert_decodes_in_proportion("vector<byte> as List", frame, n, n, |f| {
        from_bytes::<Vec<u8>>(0, f)
    });

    // Schema-less: the same vector<int> as TarsValue fields.
    let (frame, n) = list_frame(&[0x0C]);
    let real = n * size_of::<TarsField>();
    assert_decodes_in_proportion("schema-less list", frame, n, real, |f| {
        match TarsValue::decode_all(f)?.remove(0).value {
            TarsValue::List(items) => Ok(items),
            other => panic!("not a list: {other:?}"),
        }
    });
}
