//! Compiles the examples' IDL (`tars/*.tars`) with tars-build; `src/generated.rs` includes
//! the result next to the hand-written `src/demo` traits.

fn main() -> std::io::Result<()> {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    tars_build::configure().compile(&["tars/Hello.tars"], &["tars"])?;
    // PushCallbackDemo and QuickStartDemo both define `TestApp::Hello`: separate outputs.
    tars_build::configure()
        .push_interface("TestApp.Push")
        .out_dir(out.join("push_callback"))
        .compile(&["tars/PushCallback.tars"], &["tars"])?;
    tars_build::configure()
        .out_dir(out.join("quickstart"))
        .compile(&["tars/QuickStart.tars"], &["tars"])?;
    Ok(())
}
