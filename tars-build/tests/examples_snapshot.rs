//! Snapshots of the code generated for the examples' IDL (`tars/*.tars` of the
//! workspace). `UPDATE_SNAPSHOTS=1 cargo test -p tars-build --test examples_snapshot`
//! rewrites them after a deliberate change.

use std::path::Path;

#[test]
fn examples_idl_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for (file, push) in [
        ("Hello", None),
        ("PushCallback", Some("TestApp.Push")),
        ("QuickStart", None),
    ] {
        let mut b = tars_build::configure();
        if let Some(p) = push {
            b = b.push_interface(p);
        }
        let generated = b
            .generate(
                &[root.join(format!("tars/{file}.tars"))],
                &[root.join("tars")],
            )
            .unwrap();
        let code: String = generated.modules.iter().map(|m| m.code.as_str()).collect();
        let snap = snapshots.join(format!("{file}.rs.txt"));
        if update {
            std::fs::write(&snap, &code).unwrap();
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        assert_eq!(
            code,
            want,
            "{} changed; rerun with UPDATE_SNAPSHOTS=1 if intended",
            snap.display()
        );
    }
}
