//! `tars2rs [--include DIR]... [--push Module.Interface]... [--rename IDL=NAME]... --out DIR FILE.tars...`
//!
//! Writes `DIR/mod.rs` (one `pub mod <module>;` per IDL module) and `DIR/<module>.rs` per
//! module. Exit status 1 with `file:line:column: message` on bad IDL, 0 otherwise.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Compiles TARS IDL files into tars-rs Rust modules.
#[derive(Parser, Debug)]
#[command(name = "tars2rs", version, about)]
struct Args {
    /// Directory searched for `#include`d files (repeatable).
    #[arg(long = "include", value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Generate this interface as a push interface (repeatable), e.g. `TestApp.Push`.
    #[arg(long = "push", value_name = "Module.Interface")]
    push: Vec<String>,
    /// Rust name for an IDL item, to settle a name collision (repeatable), e.g.
    /// `Test.User.user_id=user_id2`.
    #[arg(long = "rename", value_name = "IDL=NAME")]
    rename: Vec<String>,
    /// Output directory.
    #[arg(long = "out", value_name = "DIR")]
    out: PathBuf,
    /// The `.tars` files.
    #[arg(required = true, value_name = "FILE.tars")]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tars_build::configure().emit_rerun_if_changed(false);
    for p in &args.push {
        builder = builder.push_interface(p);
    }
    for r in &args.rename {
        let Some((idl, rust)) = r.split_once('=') else {
            eprintln!("tars2rs: --rename expects IDL=NAME, got `{r}`");
            return ExitCode::FAILURE;
        };
        builder = builder.rename(idl, rust);
    }
    let generated = match builder.generate(&args.files, &args.include) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = generated.write_modules(&args.out) {
        eprintln!("tars2rs: cannot write {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
