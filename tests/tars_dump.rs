//! Runs the built `tars_dump` example on a few inputs and checks its JSON, its exit codes and
//! its error messages.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tars_core::TarsWriter;

/// `target/<profile>/examples/tars_dump`: this test runs from `target/<profile>/deps`, and a
/// plain `cargo test` builds the examples first. (`cargo test --test tars_dump` alone does
/// not: run `cargo build --example tars_dump` first.)
fn tars_dump_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("tars_dump{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tars_dump.rs");
    let edited = std::fs::metadata(source).and_then(|m| m.modified());
    match (built, edited) {
        (Err(_), _) => panic!(
            "{} is not built: run `cargo test` (or `cargo build --example tars_dump` first)",
            path.display()
        ),
        (Ok(built), Ok(edited)) if built < edited => {
            panic!(
                "{} is older than its source: run `cargo test` (or `cargo build --example tars_dump` first)",
                path.display()
            )
        }
        _ => path,
    }
}

/// Runs tars_dump with `args`, feeding `stdin` when given.
fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(tars_dump_path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tars_dump");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("tars_dump output")
}

/// Runs tars_dump expecting success, and parses its stdout.
fn dump(args: &[&str], stdin: Option<&str>) -> Value {
    let out = run(args, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tars_dump {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Runs tars_dump expecting exit code 1 and a one-line error; returns that line.
fn dump_err(args: &[&str]) -> String {
    let out = run(args, None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "tars_dump {args:?}: stderr {stderr:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "tars_dump {args:?} printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !stderr.contains("panicked"),
        "tars_dump {args:?} panicked: {stderr}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr:?}"
    );
    stderr
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The §2.7 tars_ping request (id 5, servant "A.B.C").
const TARS_PING: &str =
    "00 00 00 26 10 01 2C 3C 40 05 56 05 41 2E 42 2E 43 66 09 74 61 72 73 5F 70 69 6E 67 \
                         7D 00 0C 81 0B B8 98 0C A8 0C";

#[test]
fn tars_ping_frame() {
    let v = dump(&["--frame", TARS_PING], None);
    assert_eq!(
        v,
        json!({
            "iVersion": 1, "cPacketType": 0, "iMessageType": 0, "iRequestId": 5,
            "sServantName": "A.B.C", "sFuncName": "tars_ping", "sBuffer": [],
            "iTimeout": 3000, "context": {}, "status": {}
        })
    );
    // Fields are printed in tag order, not alphabetically.
    let text = String::from_utf8(run(&["--frame", TARS_PING], None).stdout).unwrap();
    let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(
        at("iVersion") < at("cPacketType") && at("iTimeout") < at("context"),
        "{text}"
    );
}

#[test]
fn tars_ping_without_frame_is_a_field_list() {
    // Without --frame, the body (after the 4 length bytes) is plain fields; hex from stdin,
    // split across lines.
    let body = TARS_PING.replace(' ', "")[8..].to_string();
    let stdin = format!("{}\n  {}\n", &body[..20], &body[20..]);
    let v = dump(&[], Some(&stdin));
    let fields = v.as_array().unwrap();
    assert_eq!(fields.len(), 10);
    assert_eq!(
        fields[4],
        json!({"tag": 5, "type": "string", "value": "A.B.C"})
    );
    assert_eq!(fields[6], json!({"tag": 7, "type": "bytes", "value": ""}));
    assert_eq!(fields[7], json!({"tag": 8, "type": "int", "value": 3000}));
    assert_eq!(fields[9], json!({"tag": 10, "type": "map", "value": []}));
}

#[test]
fn response_frame_decodes_sbuffer() {
    // §2.7 response: ret 0, sRsp "hi" at tag 2.
    let v = dump(
        &["--frame", "00000016 10012c30014c5c6d0000050c26026869780c"],
        None,
    );
    assert_eq!(
        v,
        json!({
            "iVersion": 1, "cPacketType": 0, "iRequestId": 1, "iMessageType": 0, "iRet": 0,
            "sBuffer": [
                {"tag": 0, "type": "int", "value": 0},
                {"tag": 2, "type": "string", "value": "hi"}
            ],
            "status": {}
        })
    );
}

/// A framed RequestPacket with the given version, sBuffer, context and status.
fn request_frame(version: i16, sbuffer: &[u8], context: &BTreeMap<String, String>) -> String {
    let mut w = TarsWriter::new();
    w.write_i16(1, version);
    w.write_i8(2, 0);
    w.write_i32(3, 0);
    w.write_i32(4, 77);
    w.write_str(5, "App.Server.Obj");
    w.write_str(6, "echo");
    w.write_simple_list(7, sbuffer);
    w.write_i32(8, 3000);
    w.write(9, context);
    w.write(10, &BTreeMap::<String, String>::new());
    let body = w.into_bytes();
    let mut frame = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    hex(&frame)
}

#[test]
fn tup_frame_decodes_each_parameter() {
    let mut arg = TarsWriter::new();
    arg.write_str(0, "hi");
    let mut n = TarsWriter::new();
    n.write_i64(0, -(1 << 40));
    let params: BTreeMap<String, Vec<u8>> = [
        ("sReq".to_string(), arg.as_slice().to_vec()),
        ("n".to_string(), n.as_slice().to_vec()),
    ]
    .into();
    let mut sbuffer = TarsWriter::new();
    sbuffer.write(0, &params);
    let context: BTreeMap<String, String> = [("trace".to_string(), "on".to_string())].into();
    let v = dump(
        &["--frame", &request_frame(3, sbuffer.as_slice(), &context)],
        None,
    );
    assert_eq!(v["iVersion"], json!(3));
    assert_eq!(v["context"], json!({"trace": "on"}));
    assert_eq!(
        v["sBuffer"],
        json!({
            "sReq": [{"tag": 0, "type": "string", "value": "hi"}],
            "n": [{"tag": 0, "type": "int", "value": -(1i64 << 40)}]
        })
    );
}

#[test]
fn every_value_type() {
    #[derive(Debug, PartialEq, tars_core::TarsStruct)]
    struct Point {
        #[tars(tag = 0, require)]
        x: i32,
        #[tars(tag = 1, require)]
        y: i32,
    }
    let mut w = TarsWriter::new();
    w.write_i64(0, i64::MIN);
    w.write_i64(1, i64::MAX);
    w.write_f32(2, 0.1);
    w.write_f64(3, -2.5);
    w.write_f32(4, f32::NAN);
    w.write_f64(5, f64::NEG_INFINITY);
    w.write_str(6, "héllo");
    w.write_string_bytes(7, &[0xff, 0xfe]);
    w.write(8, &vec![0xABu8, 0x01]);
    w.write(9, &vec![1i32, 300]);
    w.write(
        10,
        &BTreeMap::from([("k".to_string(), vec!["v".to_string()])]),
    );
    w.write(11, &Point { x: 0, y: -1 });
    w.write(255, &Vec::<Point>::new());
    let v = dump(&[&hex(w.as_slice())], None);
    let int = |tag: u8, v: i64| json!({"tag": tag, "type": "int", "value": v});
    assert_eq!(
        v,
        json!([
            {"tag": 0, "type": "int", "value": i64::MIN},
            {"tag": 1, "type": "int", "value": i64::MAX},
            {"tag": 2, "type": "float", "value": 0.1},
            {"tag": 3, "type": "double", "value": -2.5},
            {"tag": 4, "type": "float", "value": null, "text": "NaN"},
            {"tag": 5, "type": "double", "value": null, "text": "-inf"},
            {"tag": 6, "type": "string", "value": "héllo"},
            {"tag": 7, "type": "string", "value": null, "hex": "fffe"},
            {"tag": 8, "type": "bytes", "value": "ab01"},
            {"tag": 9, "type": "list", "value": [int(0, 1), int(0, 300)]},
            {"tag": 10, "type": "map", "value": [[
                {"tag": 0, "type": "string", "value": "k"},
                {"tag": 1, "type": "list", "value": [{"tag": 0, "type": "string", "value": "v"}]}
            ]]},
            {"tag": 11, "type": "struct", "value": [int(0, 0), int(1, -1)]},
            {"tag": 255, "type": "list", "value": []}
        ])
    );
    // 64-bit values are exact integer literals, not floats.
    let text = String::from_utf8(run(&[&hex(w.as_slice())], None).stdout).unwrap();
    assert!(
        text.contains("-9223372036854775808") && text.contains("9223372036854775807"),
        "{text}"
    );
}

#[test]
fn empty_input_is_an_empty_array() {
    assert_eq!(dump(&[], Some("  \n")), json!([]));
}

#[test]
fn garbage_is_a_one_line_error_with_offset() {
    for (args, offset) in [
        (&["0a0"][..], 2),                      // odd number of hex digits
        (&["00zz"][..], 2),                     // not hex
        (&["26 05 61"][..], 2),                 // truncated string payload
        (&["10 01 2e"][..], 2),                 // type id 14
        (&["09 02 7fffffff 00 01"][..], 6),     // a list claiming 2^31-1 elements
        (&["0a 0a 0a"][..], 3),                 // struct never closed
        (&["0b"][..], 0),                       // StructEnd without StructBegin
        (&["--frame", "00000009 1001"][..], 0), // frame length says 9, 6 bytes given
        (&["--frame", "000000061001"][..], 4),  // tag 5 missing: neither request nor response
    ] {
        let err = dump_err(args);
        assert!(err.contains(&format!("offset {offset}")), "{args:?}: {err}");
    }
    // An sBuffer that does not decode: the offset counts from the start of the input. The
    // sBuffer data starts at 36 (4 length bytes, tags 1-6 take 28, the SimpleList head 4); its
    // string at tag 1 claims 5 bytes from offset 38 where only 1 is left.
    let frame = request_frame(1, &[0x16, 0x05, 0x68], &BTreeMap::new());
    let err = dump_err(&["--frame", &frame]);
    assert!(
        err.contains("sBuffer") && err.contains("offset 38"),
        "{err}"
    );
}
