//! TarsCpp's PushDemo in Rust: a third-party protocol whose frames are
//! `[u32 BE length of the whole frame][u32 BE request id][payload]`, at most 1,000,000
//! bytes. The server echoes each request and pushes `hello world` with request id 0.

use bytes::{BufMut, Bytes, BytesMut};
use std::time::Duration;
use tars_core::client::{RequestEncoder, ResponseDecoder};
use tars_core::protocol::{LengthPrefix, RequestPacket, ResponsePacket};
use tars_core::server::RawServant;
use tars_core::{Current, CurrentRegistry, TarsResult};

/// The servant object name of the demo.
pub const RAW_PUSH_OBJ: &str = "TestApp.PushServer.TestPushServantObj";

/// The payload of every push.
pub const PUSH_PAYLOAD: &str = "hello world";

/// Largest frame of the protocol.
pub const MAX_FRAME: usize = 1_000_000;

/// Length and request id.
const HEADER: usize = 8;

/// The protocol's framing: the length counts the whole frame; the body holds at least the id.
pub fn framing() -> LengthPrefix {
    LengthPrefix {
        includes_header: true,
        min_body: 4,
        max_frame: MAX_FRAME,
    }
}

/// Encodes one frame.
pub fn encode(request_id: u32, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(HEADER + payload.len());
    buf.put_u32((HEADER + payload.len()) as u32);
    buf.put_u32(request_id);
    buf.put_slice(payload);
    buf.freeze()
}

/// The request id and payload of a whole frame (as the parser hands it over).
pub fn decode(frame: &Bytes) -> (u32, Bytes) {
    let id = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    (id, frame.slice(HEADER..))
}

/// The demo server: echoes requests, keeps every client that sent one.
#[derive(Default, Clone)]
pub struct RawPushServer {
    /// Clients that sent at least one request.
    pub registry: CurrentRegistry,
}

impl RawServant for RawPushServer {
    async fn do_request(&self, current: &Current, packet: Bytes) -> Option<Bytes> {
        if self.registry.insert(current) {
            tracing::info!(uid = current.uid(), peer = %current.peer_addr(), "client registered");
        }
        // The frame is echoed as it came, id included.
        Some(packet)
    }

    fn do_close(&self, current: &Current) {
        tracing::info!(
            uid = current.uid(),
            reason = %current.close_reason().map(|r| r.to_string()).unwrap_or_default(),
            "client closed"
        );
    }
}

impl RawPushServer {
    /// Pushes `hello world` with request id 0 to every client every `interval`, until the
    /// returned task is aborted.
    pub fn start_pushing(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let registry = self.registry.clone();
        tokio::spawn(async move {
            let frame = encode(0, PUSH_PAYLOAD.as_bytes());
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                registry.broadcast(&frame);
            }
        })
    }
}

/// Client side: frames `request.buffer` under `request.request_id`.
pub struct DemoRequestEncoder;

impl RequestEncoder for DemoRequestEncoder {
    fn encode(&self, request: &RequestPacket) -> TarsResult<Bytes> {
        Ok(encode(request.request_id as u32, &request.buffer))
    }
}

/// Client side: splits frames and says which request each answers (0: a push).
pub struct DemoResponseDecoder;

impl ResponseDecoder for DemoResponseDecoder {
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<ResponsePacket>, String> {
        let Some(frame) = framing().split_frame(buf).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let (id, payload) = decode(&frame);
        Ok(Some(ResponsePacket {
            version: 1,
            request_id: id as i32,
            buffer: payload,
            ..ResponsePacket::default()
        }))
    }
}
