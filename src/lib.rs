//! Workspace root of tars-rs: it only hosts the examples (`examples/`) and the
//! integration and interop tests (`tests/`). The library is `tars-core`.
pub use tars_core;
