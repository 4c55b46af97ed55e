//! Workspace root of tars-rs. The library is `tars-core`; this crate hosts the examples
//! (`examples/`), the integration and interop tests (`tests/`) and, in [`demo`], the demo
//! interfaces they share (the IDL of each example written as Rust).

pub mod cli;
pub mod demo;
pub mod generated;
pub use tars_core;

/// The codec guide, `docs/codec.md`: compiled here so that its examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/codec.md")]
pub struct CodecGuide;
