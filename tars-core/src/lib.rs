//! # tars-core
//!
//! The runtime of tars-rs, a Rust implementation of the TARS RPC framework that is
//! wire-compatible with TarsCpp, TarsGo and Tars.js.
//!
//! - [`codec`]: the TARS binary encoding and the traits behind `#[derive(TarsStruct)]`.
//!
//! The procedural macros are re-exported here, so depending on `tars-core` is enough.

#![warn(missing_docs)]

// Lets the derive macros, which name `::tars_core::...`, be used inside this crate too.
extern crate self as tars_core;

pub mod client;
pub mod codec;
pub mod endpoint;
mod error;
pub mod protocol;
pub mod server;

pub use codec::{
    DecodeError, TarsDecode, TarsEncode, TarsReader, TarsStruct, TarsType, TarsValue, TarsWriter,
};
pub use client::{Communicator, Proxy, ServantProxy};
pub use endpoint::Endpoint;
pub use error::{TarsError, TarsResult};
pub use server::{Current, CurrentRegistry, Server};
pub use tars_macros::{TarsEnum, TarsStruct};

/// Re-exports for generated code; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use bytes::Bytes;
}
