//! Compiles the framework interfaces (`tars/*.tars`: AdminF, NodeF/ServerF, NotifyF) with
//! tars-build for `tars_core::app::framework`.

fn main() -> std::io::Result<()> {
    tars_build::configure().compile(
        &["tars/AdminF.tars", "tars/NodeF.tars", "tars/NotifyF.tars"],
        &["tars"],
    )
}
