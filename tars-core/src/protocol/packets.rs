//! `RequestPacket` and `ResponsePacket` of `RequestF.tars`.

use crate::TarsStruct;
use bytes::Bytes;
use std::collections::BTreeMap;

/// A request (and, with iVersion 3, a TUP response). Every field is `require`, so every
/// field is always written, as TarsCpp servers insist.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "tars.RequestPacket")]
pub struct RequestPacket {
    /// 1 TARS, 3 TUP, 5 JSON.
    #[tars(tag = 1, require)]
    pub version: i16,
    /// 0 normal, 1 one-way.
    #[tars(tag = 2, require)]
    pub packet_type: i8,
    /// Bit flags (`MESSAGE_TYPE_*`).
    #[tars(tag = 3, require)]
    pub message_type: i32,
    /// Correlation id; 0 is reserved for pushes.
    #[tars(tag = 4, require)]
    pub request_id: i32,
    /// `App.Server.Obj`.
    #[tars(tag = 5, require)]
    pub servant_name: String,
    /// The function name.
    #[tars(tag = 6, require)]
    pub func_name: String,
    /// The encoded parameters.
    #[tars(tag = 7, require)]
    pub buffer: Bytes,
    /// The caller's timeout in milliseconds.
    #[tars(tag = 8, require)]
    pub timeout: i32,
    /// User context.
    #[tars(tag = 9, require)]
    pub context: BTreeMap<String, String>,
    /// Framework status.
    #[tars(tag = 10, require)]
    pub status: BTreeMap<String, String>,
}

/// A TARS (v1) response, and the frame of a push (request id 0).
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "tars.ResponsePacket")]
pub struct ResponsePacket {
    /// Echoes the request's version.
    #[tars(tag = 1, require)]
    pub version: i16,
    /// Always 0.
    #[tars(tag = 2, require)]
    pub packet_type: i8,
    /// The request's id; 0 for a push.
    #[tars(tag = 3, require)]
    pub request_id: i32,
    /// Echoes the request's message type.
    #[tars(tag = 4, require)]
    pub message_type: i32,
    /// Framework return code (0 success).
    #[tars(tag = 5, require)]
    pub ret: i32,
    /// The encoded return value and out parameters.
    #[tars(tag = 6, require)]
    pub buffer: Bytes,
    /// Framework status (`TARS_FUNC` for pushes).
    #[tars(tag = 7, require)]
    pub status: BTreeMap<String, String>,
    /// Error description; omitted when empty.
    #[tars(tag = 8)]
    pub result_desc: String,
    /// Response context; omitted when empty.
    #[tars(tag = 9)]
    pub context: BTreeMap<String, String>,
}
