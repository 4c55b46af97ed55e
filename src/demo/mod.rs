//! Demo interfaces shared by the examples and tests, each the Rust spelling of a TARS IDL.

pub mod hello;
pub mod push_callback;
pub mod quickstart;
pub mod raw_push;
