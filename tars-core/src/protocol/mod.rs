//! The TARS packets and what travels around them: [`RequestPacket`], [`ResponsePacket`],
//! the constants of `BaseF.tars`, the 4-byte length framing and parameter encoding for
//! TARS (v1) and TUP (v3).

mod borrowed;
mod consts;
mod framing;
mod packets;
mod params;
mod response;

pub use borrowed::{encode_request_into, encode_response_into, RequestHead, RequestParts};
pub use consts::*;
pub use framing::{encode_frame, encode_frame_into, frame_body, FrameError, LengthPrefix};
pub use packets::{RequestPacket, ResponsePacket};
pub(crate) use params::recycle as recycle_params;
pub use params::{ParamsReader, ParamsWriter};
pub use response::decode_response;
pub(crate) use response::peek_version;
