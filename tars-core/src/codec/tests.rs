//! Unit tests of the codec: the byte examples of the protocol reference (§1.9, §2.7) and the
//! reader rules (§1.8).

use super::*;
use crate::TarsStruct;
use std::collections::BTreeMap;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn enc<T: TarsEncode + ?Sized>(tag: u8, v: &T) -> String {
    hex(&to_bytes(tag, v))
}

#[test]
fn reference_byte_examples() {
    assert_eq!(enc(1, &300i32), "11012c");
    assert_eq!(enc(2, &70000i32), "2200011170");
    assert_eq!(enc(5, &0i32), "5c");
    assert_eq!(enc(0, &-1i32), "00ff");
    assert_eq!(enc(0, &128i32), "010080");
    assert_eq!(enc(0, &(1i64 << 31)), "030000000080000000");
    assert_eq!(enc(20, &7i32), "f01407");
    assert_eq!(enc(2, "hi"), "26026869");
    assert_eq!(enc(3, &vec![1u8, 2, 3]), "3d000003010203");
    assert_eq!(enc(7, &Vec::<u8>::new()), "7d000c");
    let map: BTreeMap<String, i32> = [("a".to_string(), 1)].into();
    assert_eq!(enc(4, &map), "48000106016110 01".replace(' ', ""));
    assert_eq!(enc(0, &1.0f32), "043f800000");
    assert_eq!(enc(1, &1.0f64), "153ff0000000000000");
    assert_eq!(enc(3, &true), "3001");
    assert_eq!(enc(3, &false), "3c");
}

#[test]
fn nested_struct_example() {
    #[derive(Debug, PartialEq, crate::TarsStruct)]
    struct One {
        #[tars(tag = 0, require)]
        x: i32,
    }
    assert_eq!(enc(1, &One { x: 1 }), "1a00010b");
    let back: One = from_bytes(1, unhex("1a00010b")).unwrap();
    assert_eq!(back, One { x: 1 });
}

#[test]
fn unsigned_types_widen() {
    assert_eq!(enc(0, &200u8), "0100c8");
    assert_eq!(enc(0, &40000u16), "0200009c40");
    assert_eq!(enc(0, &u32::MAX), "0300000000ffffffff");
    assert_eq!(
        from_bytes::<u32>(0, unhex("0300000000ffffffff")).unwrap(),
        u32::MAX
    );
    // A negative short cannot be an unsigned byte.
    assert!(from_bytes::<u8>(0, unhex("00ff")).is_err());
}

#[test]
fn strings_switch_to_string4_after_255_bytes() {
    let s255 = "x".repeat(255);
    let s256 = "x".repeat(256);
    assert_eq!(&enc(0, s255.as_str())[..4], "06ff");
    assert_eq!(&enc(0, s256.as_str())[..10], "0700000100");
    assert_eq!(from_bytes::<String>(0, to_bytes(0, &s256)).unwrap(), s256);
}

#[test]
fn width_tolerance_on_read() {
    // Narrower is accepted.
    assert_eq!(from_bytes::<i64>(0, unhex("00ff")).unwrap(), -1);
    assert_eq!(from_bytes::<i32>(0, unhex("0c")).unwrap(), 0);
    // Wider is refused even if the value would fit.
    let err = from_bytes::<i16>(0, unhex("0200000001")).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::TypeMismatch { .. }),
        "{err}"
    );
    // double accepts float and ZeroTag; float accepts ZeroTag but not double.
    assert_eq!(from_bytes::<f64>(0, unhex("043f800000")).unwrap(), 1.0);
    assert_eq!(from_bytes::<f64>(0, unhex("0c")).unwrap(), 0.0);
    assert_eq!(from_bytes::<f32>(0, unhex("0c")).unwrap(), 0.0);
    assert!(from_bytes::<f32>(0, unhex("053ff0000000000000")).is_err());
    // Strings accept String1 and String4 only.
    assert!(from_bytes::<String>(0, unhex("0001")).is_err());
}

#[test]
fn bytes_accept_plain_list_of_chars() {
    // LIST of 2 chars at tag 0: 09, count 2 (00 02), elements 00 05, 00 06.
    assert_eq!(
        from_bytes::<Vec<u8>>(0, unhex("09 00 02 00 05 00 06")).unwrap(),
        vec![5, 6]
    );
}

#[test]
fn skipping_and_absent_fields() {
    // tag 0 = 1, tag 1 = "hi", tag 5 = list[1], tag 9 = 3: read tag 9 skipping the rest.
    let mut w = TarsWriter::new();
    w.write_i32(0, 1);
    w.write_str(1, "hi");
    w.write(5, &vec![1i32]);
    w.write(6, &BTreeMap::from([(1i32, "x".to_string())]));
    w.write(7, &vec![9u8; 3]);
    w.write_i32(9, 3);
    let mut r = TarsReader::new(w.into_bytes());
    assert_eq!(
        r.read_optional::<i32>(2).unwrap(),
        None,
        "absent field in between"
    );
    assert_eq!(r.read::<i32>(9).unwrap(), 3);
    assert!(r.is_empty());
    let err = r.read::<i32>(10).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::RequiredFieldMissing);
    assert_eq!(err.tag(), Some(10));
}

#[test]
fn hostile_counts_are_refused_without_allocating() {
    // A list claiming 2^31-1 elements in a handful of bytes.
    let err = from_bytes::<Vec<i32>>(0, unhex("09 02 7f ff ff ff 00 01")).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::LengthTooLarge { .. }),
        "{err}"
    );
    let err = from_bytes::<Vec<u8>>(0, unhex("0d 00 02 7f ff ff ff")).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::LengthTooLarge { .. }),
        "{err}"
    );
    let err = from_bytes::<Vec<i32>>(0, unhex("09 00 ff")).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::NegativeLength(-1)),
        "{err}"
    );
    let err = from_bytes::<String>(0, unhex("07 ff ff ff ff 61")).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::UnexpectedEof { .. }),
        "{err}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    // 10,000 nested struct begins.
    let bytes = vec![0x0Au8; 10_000];
    let err = TarsValue::decode_all(bytes.clone()).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::TooDeep);
    let mut r = TarsReader::new(bytes.into());
    assert!(r.skip_any_field().is_err());
}

#[test]
fn invalid_type_id_is_an_error() {
    let err = TarsValue::decode_all(vec![0x0Eu8]).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::InvalidType(14));
    assert_eq!(err.offset(), 0);
}

#[test]
fn value_round_trip() {
    let mut w = TarsWriter::new();
    w.write_i32(0, 7);
    w.write_str(1, "a");
    w.write(2, &vec![1u8, 2]);
    w.write(3, &BTreeMap::from([("k".to_string(), vec![1i64, 1 << 40])]));
    w.write(200, &1.5f64);
    let bytes = w.into_bytes();
    let fields = TarsValue::decode_all(bytes.clone()).unwrap();
    let mut again = TarsWriter::new();
    for f in &fields {
        f.value.encode(&mut again, f.tag);
    }
    assert_eq!(again.as_slice(), &bytes[..]);
}

#[derive(Debug, Clone, PartialEq, crate::TarsStruct)]
#[tars(name = "Test.Inner")]
struct Inner {
    #[tars(tag = 0, require)]
    id: i32,
    #[tars(tag = 1, default = "anon")]
    label: String,
    #[tars(tag = 2, default = 5)]
    level: i64,
    #[tars(tag = 3)]
    flag: bool,
    #[tars(tag = 4)]
    maybe: Option<String>,
}

#[test]
fn optional_fields_follow_tarscpp() {
    let v = Inner::default();
    assert_eq!(v.label, "anon");
    assert_eq!(v.level, 5);
    // Defaults are omitted, bool is always written, None is not written.
    assert_eq!(hex(&v.to_tars_bytes()), "0c3c");
    let v = Inner {
        id: 1,
        label: "x".into(),
        level: 0,
        flag: true,
        maybe: Some(String::new()),
    };
    assert_eq!(
        hex(&v.to_tars_bytes()),
        "0001 16 01 78 2c 30 01 46 00".replace(' ', "")
    );
    assert_eq!(Inner::from_tars_bytes(v.to_tars_bytes()).unwrap(), v);
    // Absent optional fields read as their IDL default, Option as None.
    let read = Inner::from_tars_bytes(unhex("0001")).unwrap();
    assert_eq!(
        (read.label.as_str(), read.level, read.maybe),
        ("anon", 5, None)
    );
    // A missing require field names the struct and field.
    let err = Inner::from_tars_bytes(unhex("1601 78")).unwrap_err();
    assert_eq!(err.path(), "Test.Inner.id(0)");
    assert_eq!(Inner::CLASS_NAME, "Test.Inner");
}

#[test]
fn unknown_tags_are_skipped_in_nested_structs() {
    // Inner { id: 2 } followed by unknown tags 9 (string) and 100 (struct), inside tag 1.
    let bytes = unhex("1a 00 02 96 01 7a fa 64 00 01 0b 0b");
    let v: Inner = from_bytes(1, bytes).unwrap();
    assert_eq!(v.id, 2);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, crate::TarsEnum)]
enum Color {
    Red = 0,
    Green = 1,
    Blue = 5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, crate::TarsEnum)]
enum Open {
    #[tars(value = 3)]
    Three,
    #[tars(unknown)]
    Unknown(i32),
}

#[test]
fn enums_travel_as_int() {
    assert_eq!(enc(0, &Color::Blue), "0005");
    assert_eq!(Color::default(), Color::Red);
    assert_eq!(from_bytes::<Color>(0, unhex("0005")).unwrap(), Color::Blue);
    assert!(from_bytes::<Color>(0, unhex("0007")).is_err());
    assert_eq!(
        from_bytes::<Open>(0, unhex("0007")).unwrap(),
        Open::Unknown(7)
    );
    assert_eq!(enc(0, &Open::Unknown(7)), "0007");
    assert_eq!(Open::default(), Open::Three);
}

#[test]
fn absent_elements_keep_counts_true() {
    let list = vec![Some(1i32), None, Some(3)];
    // Two elements: 1 and 3.
    assert_eq!(enc(0, &list), "0900020001 0003".replace(' ', ""));
    assert_eq!(
        from_bytes::<Vec<Option<i32>>>(0, to_bytes(0, &list)).unwrap(),
        vec![Some(1), Some(3)]
    );
    let map = BTreeMap::from([(1i32, None), (2, Some("x".to_string()))]);
    assert_eq!(
        from_bytes::<BTreeMap<i32, String>>(0, to_bytes(0, &map)).unwrap(),
        BTreeMap::from([(2, "x".to_string())])
    );
}

#[test]
fn byte_strings_carry_any_bytes() {
    let gbk = ByteString(bytes::Bytes::from_static(&[0xC4, 0xE3, 0xBA, 0xC3]));
    assert_eq!(enc(1, &gbk), "1604c4e3bac3");
    assert_eq!(from_bytes::<ByteString>(1, to_bytes(1, &gbk)).unwrap(), gbk);
    assert!(
        from_bytes::<String>(1, to_bytes(1, &gbk)).is_err(),
        "String insists on UTF-8"
    );
}

#[test]
fn announced_counts_reserve_a_bounded_capacity() {
    let r = TarsReader::new(bytes::Bytes::from(vec![0u8; 1 << 20]));
    // Small lists get their whole count; large elements are capped at 64 KiB's worth.
    assert_eq!(r.cautious_capacity::<u32>(100), 100);
    assert_eq!(r.cautious_capacity::<u32>(1 << 20), 16 * 1024);
    assert_eq!(r.cautious_capacity::<[u8; 1000]>(1 << 20), 65);
    assert_eq!(r.cautious_capacity::<()>(1 << 20), 64 * 1024);
    // Never more bytes than the input has left.
    let short = TarsReader::new(bytes::Bytes::from_static(&[0; 100]));
    assert_eq!(short.cautious_capacity::<u8>(1000), 100);
    assert_eq!(short.cautious_capacity::<[u8; 1000]>(1000), 0);
}
