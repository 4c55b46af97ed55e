//! Writes the seed corpora, `fuzz/corpus/<target>/seed-*`, from the sample values the golden
//! tests use (`tars_rs::demo::hello`), the config fixtures and the IDL files of the repo.
//! Run from the workspace root: `cargo run -p tars-fuzz --bin fuzz-seeds`.

use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::path::Path;
use tars_core::protocol::{encode_frame, ParamsWriter, RequestPacket, ResponsePacket};
use tars_core::TarsStruct;
use tars_rs::demo::hello::{sample_all_types, sample_person, HELLO_OBJ};

fn request(id: i32, version: i16, func: &str, buffer: Bytes) -> RequestPacket {
    RequestPacket {
        version,
        packet_type: 0,
        message_type: 0,
        request_id: id,
        servant_name: HELLO_OBJ.into(),
        func_name: func.into(),
        buffer,
        timeout: 3000,
        context: BTreeMap::from([("k".to_string(), "v".to_string())]),
        status: BTreeMap::new(),
    }
}

fn main() -> std::io::Result<()> {
    let root = Path::new("fuzz/corpus");
    let write = |target: &str, name: &str, data: &[u8]| -> std::io::Result<()> {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), data)
    };
    let all = sample_all_types().to_tars_bytes();
    let person = sample_person().to_tars_bytes();
    let mut hello = ParamsWriter::new(1);
    hello.write(1, "name", "fuzz");
    let hello = hello.finish();
    let mut tup = ParamsWriter::new(3);
    tup.write(1, "name", "fuzz");
    let req = request(1, 1, "sayHello", hello.clone());
    let tup_req = request(2, 3, "sayHello", tup.finish());
    let resp = ResponsePacket {
        version: 1,
        packet_type: 0,
        request_id: 1,
        message_type: 0,
        ret: -1,
        buffer: all.clone(),
        status: BTreeMap::new(),
        result_desc: "desc".into(),
        context: BTreeMap::new(),
    };
    for (name, data) in [("all_types", &all), ("person", &person)] {
        write("value", name, data)?;
        write("every_field", name, data)?;
    }
    for (name, p) in [
        ("request", req.to_tars_bytes()),
        ("tup", tup_req.to_tars_bytes()),
    ] {
        write("value", name, &p)?;
        write("packets", name, &p)?;
    }
    write("packets", "response", &resp.to_tars_bytes())?;
    let mut frames = BytesMut::new();
    for p in [&req, &tup_req, &request(3, 1, "tars_ping", Bytes::new())] {
        frames.extend_from_slice(&encode_frame(p));
    }
    frames.extend_from_slice(&encode_frame(&request(4, 1, "add", {
        let mut w = ParamsWriter::new(1);
        w.write(1, "a", &1i32);
        w.write(2, "b", &2i32);
        w.finish()
    })));
    frames.extend_from_slice(&encode_frame(&request(5, 1, "noSuchFunc", hello)));
    write("server", "calls", &frames)?;
    write("server", "truncated", &frames[..frames.len() / 2])?;
    let mut framing = vec![3u8];
    framing.extend_from_slice(&frames);
    write("framing", "calls", &framing)?;
    for dir in ["tars-core/tests/fixtures/config"] {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            write("config", &name, &std::fs::read(&path)?)?;
        }
    }
    for dir in ["tars", "tars-core/tars"] {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tars") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                write("idl", &name, &std::fs::read(&path)?)?;
            }
        }
    }
    Ok(())
}
