//! The framework interfaces (see [`crate::framework`]); kept here for existing paths.

pub use crate::framework::tars;
