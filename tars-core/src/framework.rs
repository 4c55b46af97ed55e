//! The framework interfaces, compiled from `tars-core/tars/*.tars` by tars-build: `AdminF`
//! (served as `AdminObj`), `ServerF` (tarsnode's heartbeat object), `Notify` (tarsnotify),
//! `QueryF` and `EndpointF` (the registry), `StatF`, `PropertyF`, `Config` and `Log`.

/// IDL module `tars`.
#[allow(missing_docs)]
pub mod tars {
    crate::include_tars!("tars");
}
