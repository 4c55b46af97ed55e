//! One function per fuzz target: each takes arbitrary bytes and must return without
//! panicking, hanging or allocating without bound. `fuzz/fuzz_targets/*.rs` call them under
//! libFuzzer; `tests/replay.rs` calls them on every file of `fuzz/corpus/<target>/` and
//! `fuzz/artifacts/<target>/` on stable Rust, so a fixed crash stays fixed.
//!
//! Besides "no panic", the entries check round trips where the format promises one.

use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use tars_core::codec::TarsValue;
use tars_core::protocol::{LengthPrefix, RequestPacket, ResponsePacket};
use tars_core::{TarsEnum, TarsStruct};

/// A fuzz entry: takes the input bytes.
pub type Entry = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/`) and its entry.
pub const TARGETS: &[(&str, Entry)] = &[
    ("value", value),
    ("packets", packets),
    ("every_field", every_field),
    ("framing", framing),
    ("config", config),
    ("idl", idl),
    ("server", server),
];

/// The schema-less decoder: whatever decodes re-encodes to bytes that decode the same.
pub fn value(data: &[u8]) {
    if let Ok(fields) = TarsValue::decode_all(Bytes::copy_from_slice(data)) {
        let mut w = tars_core::codec::TarsWriter::new();
        for f in &fields {
            f.value.encode(&mut w, f.tag);
        }
        let again = TarsValue::decode_all(w.into_bytes()).expect("re-encoded fields decode");
        assert_eq!(fields.len(), again.len());
    }
}

/// `RequestPacket` and `ResponsePacket`: decoded packets survive a round trip, and the
/// client's fast response decoder gives what the derived one gives (errors included).
pub fn packets(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    assert_eq!(
        tars_core::protocol::decode_response(bytes.clone()),
        ResponsePacket::from_tars_bytes(bytes.clone())
    );
    if let Ok(p) = RequestPacket::from_tars_bytes(bytes.clone()) {
        assert_eq!(
            RequestPacket::from_tars_bytes(p.to_tars_bytes()).unwrap(),
            p
        );
    }
    if let Ok(p) = ResponsePacket::from_tars_bytes(bytes) {
        assert_eq!(
            ResponsePacket::from_tars_bytes(p.to_tars_bytes()).unwrap(),
            p
        );
    }
}

/// An enum field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TarsEnum)]
pub enum Kind {
    /// 0.
    A,
    /// 1.
    B,
    /// Other values.
    #[tars(unknown)]
    Unknown(i32),
}

/// A nested struct.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
pub struct Inner {
    /// A required int.
    #[tars(tag = 0, require)]
    pub id: i32,
    /// A string.
    #[tars(tag = 1)]
    pub name: String,
}

/// A struct with every kind of field.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
pub struct Every {
    /// bool.
    #[tars(tag = 0)]
    pub b: bool,
    /// byte.
    #[tars(tag = 1)]
    pub i8v: i8,
    /// short.
    #[tars(tag = 2)]
    pub i16v: i16,
    /// int, required.
    #[tars(tag = 3, require)]
    pub i32v: i32,
    /// long.
    #[tars(tag = 4)]
    pub i64v: i64,
    /// unsigned byte/short/int.
    #[tars(tag = 5)]
    pub u8v: u8,
    /// unsigned short.
    #[tars(tag = 6)]
    pub u16v: u16,
    /// unsigned int.
    #[tars(tag = 7)]
    pub u32v: u32,
    /// float (compared by bits).
    #[tars(tag = 8)]
    pub f32v: f32,
    /// double.
    #[tars(tag = 9)]
    pub f64v: f64,
    /// string.
    #[tars(tag = 10, default = "dflt")]
    pub s: String,
    /// vector<byte>.
    #[tars(tag = 11)]
    pub bin: Vec<u8>,
    /// vector<int>.
    #[tars(tag = 12)]
    pub ints: Vec<i32>,
    /// map<string, vector<string>>.
    #[tars(tag = 13)]
    pub map: BTreeMap<String, Vec<String>>,
    /// A nested struct.
    #[tars(tag = 14)]
    pub inner: Inner,
    /// vector<struct>.
    #[tars(tag = 15)]
    pub inners: Vec<Inner>,
    /// map<int, struct>.
    #[tars(tag = 16)]
    pub by_id: BTreeMap<i32, Inner>,
    /// An enum.
    #[tars(tag = 17)]
    pub kind: Kind,
    /// optional (absent or present).
    #[tars(tag = 18)]
    pub maybe: Option<i64>,
    /// Zero-copy bytes.
    #[tars(tag = 19)]
    pub raw: Bytes,
    /// A far tag.
    #[tars(tag = 200)]
    pub far: String,
}

/// The derived decoder of [`Every`]: what decodes re-encodes to bytes that decode equal
/// (NaNs aside, which are not equal to themselves).
pub fn every_field(data: &[u8]) {
    if let Ok(v) = Every::from_tars_bytes(Bytes::copy_from_slice(data)) {
        let again = Every::from_tars_bytes(v.to_tars_bytes()).expect("re-encoded struct decodes");
        if !v.f32v.is_nan() && !v.f64v.is_nan() {
            assert_eq!(again, v);
        }
    }
}

/// Length framing: the first byte picks the chunk size; the frames split from the stream fed
/// in chunks are the frames split from it whole.
pub fn framing(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = chunk as usize % 17 + 1;
    let framing = LengthPrefix::tars(64 * 1024);
    let split_all = |buf: &mut BytesMut, out: &mut Vec<Bytes>| -> bool {
        loop {
            match framing.split_frame(buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    };
    let (mut whole, mut whole_frames) = (BytesMut::from(data), Vec::new());
    let whole_ok = split_all(&mut whole, &mut whole_frames);
    let (mut buf, mut frames, mut ok) = (BytesMut::new(), Vec::new(), true);
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        if !split_all(&mut buf, &mut frames) {
            ok = false;
            break;
        }
    }
    assert_eq!(ok, whole_ok);
    if ok {
        assert_eq!(frames, whole_frames);
        assert_eq!(buf, whole);
    }
}

/// The TC_Config parser: a parsed config written back parses to the same config.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = text.parse::<tars_core::config::Config>() {
        // A config the writer cannot write faithfully is refused with an error, not written.
        if let Ok(written) = cfg.to_tars_string() {
            let again: tars_core::config::Config =
                written.parse().expect("a written config parses");
            assert_eq!(again.to_tars_string().unwrap(), written);
        }
    }
}

/// The `.tars` lexer and parser (tars-build).
pub fn idl(data: &[u8]) {
    if let Ok(tokens) = tars_build::lexer::lex(data, 0) {
        let _ = tars_build::parser::parse(tokens);
    }
}

/// The server's whole receive path: `data` is what a peer sends on one connection to the
/// demo Hello servant, through an in-memory pipe; the connection must end once the peer
/// has sent everything and closed.
pub fn server(data: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let (peer, served) = tokio::io::duplex(64 * 1024);
        let config = tars_core::server::ServerConfig {
            max_frame_len: 1 << 20,
            ..Default::default()
        };
        let servant =
            tars_rs::demo::hello::HelloServant::new(tars_rs::demo::hello::HelloImpl::default());
        let serve =
            tars_core::server::serve_io(servant, tars_rs::demo::hello::HELLO_OBJ, served, config);
        let (mut rd, mut wr) = tokio::io::split(peer);
        let send = async {
            let _ = wr.write_all(data).await;
            let _ = wr.shutdown().await;
        };
        let drain = async {
            let mut sink = Vec::new();
            let _ = rd.read_to_end(&mut sink).await;
        };
        let (_reason, (), ()) = tokio::join!(serve, send, drain);
    });
}
