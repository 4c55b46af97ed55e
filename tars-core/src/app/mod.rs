//! Running as a TARS deployment runs a server.
pub mod framework;
