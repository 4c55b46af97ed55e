//! # tars-core
//!
//! The runtime of tars-rs, a Rust implementation of the TARS RPC framework that is
//! wire-compatible with TarsCpp, TarsGo and Tars.js.
//!
//! - [`codec`]: the TARS binary encoding and the traits behind `#[derive(TarsStruct)]`;
//! - [`protocol`]: RequestPacket/ResponsePacket, return codes, framing, TARS/TUP parameters;
//! - [`endpoint`]: `tcp -h H -p P -t T` and `Obj@ep:ep` strings;
//! - [`server`]: [`Server`], [`Current`], [`CurrentRegistry`], raw (third-party) servants;
//! - [`client`]: [`Communicator`], [`ServantProxy`], push callbacks and subscriptions
//!   ([`SubscribeOptions`], [`PushSubscription`]).
//!
//! The procedural macros (`#[derive(TarsStruct)]`, `#[derive(TarsEnum)]`,
//! `#[tars_interface]`, `#[tars_push]`) are re-exported here, so depending on `tars-core` is
//! enough, as is [`Bytes`] (re-exported from the `bytes` crate with [`BytesMut`]);
//! `use tars_core::prelude::*` brings in what most programs need. The user guide is
//! in `docs/` of the repository.

#![warn(missing_docs)]

// Lets the derive macros, which name `::tars_core::...`, be used inside this crate too.
extern crate self as tars_core;

pub mod client;
pub mod codec;
pub mod endpoint;
mod error;
pub mod protocol;
pub mod server;

/// The byte buffers of every payload (`vector<byte>`, sBuffer, frames), re-exported so that
/// depending on `tars-core` is enough.
pub use bytes::{Bytes, BytesMut};
pub use client::{Communicator, Proxy, PushSubscription, ServantProxy, SubscribeOptions};
pub use codec::{
    DecodeError, TarsDecode, TarsEncode, TarsReader, TarsStruct, TarsType, TarsValue, TarsWriter,
};
pub use endpoint::Endpoint;
pub use error::{TarsError, TarsResult};
pub use server::{Current, CurrentRegistry, Server};
pub use tars_macros::{tars_interface, tars_push, TarsEnum, TarsStruct};

/// Re-exports for generated code; not a public API.
#[doc(hidden)]
pub mod __private {
    use crate::codec::DecodeError;
    use crate::protocol::{SERVER_DECODE_ERR, SERVER_NO_FUNC_ERR};
    use crate::TarsError;
    pub use bytes::Bytes;
    pub use tracing;

    /// A parameter a servant could not decode: -1 with a description.
    pub fn param_error(func: &str, param: &str, tag: u8, e: DecodeError) -> TarsError {
        TarsError::ret(SERVER_DECODE_ERR, e.in_field(func, param, tag).to_string())
    }

    /// A function the servant does not have: -3.
    pub fn no_function(func: &str) -> TarsError {
        TarsError::ret(SERVER_NO_FUNC_ERR, format!("no function `{func}`"))
    }

    /// A reply value a client could not decode.
    pub fn reply_error(func: &str, param: &str, tag: u8, e: DecodeError) -> TarsError {
        let param = if param.is_empty() {
            "return value"
        } else {
            param
        };
        TarsError::Decode(e.in_field(func, param, tag))
    }
}

/// The names most programs need: `use tars_core::prelude::*;`.
pub mod prelude {
    pub use crate::client::{
        Communicator, Proxy, PushSubscription, ServantProxy, SubscribeOptions,
    };
    pub use crate::server::{Current, CurrentRegistry, Server};
    pub use crate::{
        tars_interface, tars_push, Bytes, BytesMut, Endpoint, TarsEnum, TarsError, TarsResult,
        TarsStruct,
    };
}
