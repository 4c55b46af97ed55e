//! Every `.tars` file shipped in the npm packages `@tars/rpc`, `@tars/registry`,
//! `@tars/monitor` and `@tars/stream` goes through `tars2rs`, and the output compiles
//! (`cargo check`) in one scratch crate that depends on tars-core by path, one Rust
//! module per file. The scratch build has its own target directory under this test's
//! target directory, kept between runs.

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: [&str; 4] = ["rpc", "registry", "monitor", "stream"];

/// `tests/node` of the workspace with the npm packages installed (`npm ci`, as the root
/// tests do). Panics when npm is missing: this test never skips.
fn node_modules() -> PathBuf {
    let node = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node");
    let installed = || {
        PACKAGES.iter().all(|p| {
            node.join(format!("node_modules/@tars/{p}/package.json"))
                .exists()
        })
    };
    for sub in ["ci", "install"] {
        if installed() {
            break;
        }
        let status = Command::new("npm")
            .args([sub, "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&node)
            .status()
            .unwrap_or_else(|e| panic!("npm is required for the corpus test: {e}"));
        if !status.success() {
            eprintln!("npm {sub} failed in {}", node.display());
        }
    }
    assert!(
        installed(),
        "could not install the @tars npm packages in {}",
        node.display()
    );
    node.join("node_modules/@tars")
}

fn tars_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            tars_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "tars") {
            out.push(p);
        }
    }
}

#[test]
fn npm_tars_files_compile() {
    let root = node_modules();
    let mut files = Vec::new();
    for p in PACKAGES {
        tars_files(&root.join(p), &mut files);
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "QueryF.tars",
        "EndpointF.tars",
        "StatF.tars",
        "PropertyF.tars",
        "PropertyPlusF.tars",
        "RequestF.tars",
        "NodeTars.tars",
        "Ext.tars",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found among {names:?}"
        );
    }

    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let krate = tmp.join("npm-corpus");
    let src = krate.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tars-core");
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"npm-corpus\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\ntars-core = {{ path = {:?} }}\n\n[workspace]\n",
            core.canonicalize().unwrap().display().to_string()
        ),
    )
    .unwrap();
    // The workspace's lock file, so the scratch crate uses the same dependency versions.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    std::fs::copy(lock, krate.join("Cargo.lock")).unwrap();
    let mut lib =
        String::from("//! Generated from the npm packages' .tars files.\n#![deny(warnings)]\n");
    for (i, file) in files.iter().enumerate() {
        let module = format!("f{i}");
        let out = Command::new(env!("CARGO_BIN_EXE_tars2rs"))
            .arg("--out")
            .arg(src.join(&module))
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tars2rs {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        lib.push_str(&format!(
            "/// `{}`\npub mod {module};\n",
            file.strip_prefix(&root).unwrap().display()
        ));
    }
    std::fs::write(src.join("lib.rs"), lib).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["check", "--quiet", "--offline"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", tmp.join("scratch-target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the generated code does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
