//! Workspace root of tars-rs: it only hosts the examples (`examples/`) and the
//! integration and interop tests (`tests/`). The library is `tars-core`.
pub use tars_core;

/// The codec guide, `docs/codec.md`: compiled here so that its examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/codec.md")]
pub struct CodecGuide;
