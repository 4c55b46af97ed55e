//! The examples' IDL compiled from `tars/*.tars` by tars-build (see `build.rs`), side by
//! side with the hand-written [`demo`](crate::demo) modules; `tests/generated_idl.rs` proves
//! both give the same bytes.

/// `tars/Hello.tars`: module `Test`.
pub mod test {
    tars_core::include_tars!("Test");
}

/// `tars/PushCallback.tars` (with `TestApp.Push` as a push interface).
pub mod push_callback {
    /// Module `TestApp`.
    pub mod test_app {
        tars_core::include_tars!("TestApp", dir = "push_callback");
    }
}

/// `tars/QuickStart.tars`.
pub mod quickstart {
    /// Module `TestApp`.
    pub mod test_app {
        tars_core::include_tars!("TestApp", dir = "quickstart");
    }
}
