//! Compiles the framework interfaces (`tars/*.tars`: AdminF, NodeF/ServerF, NotifyF, the
//! registry's QueryF/EndpointF, StatF, PropertyF, ConfigF, LogF) with tars-build for
//! `tars_core::framework`.

fn main() -> std::io::Result<()> {
    tars_build::configure().compile(
        &[
            "tars/AdminF.tars",
            "tars/NodeF.tars",
            "tars/NotifyF.tars",
            "tars/EndpointF.tars",
            "tars/QueryF.tars",
            "tars/StatF.tars",
            "tars/PropertyF.tars",
            "tars/ConfigF.tars",
            "tars/LogF.tars",
        ],
        &["tars"],
    )
}
