//! The `tars2rs` command line: layout written, include directories, diamond includes,
//! push interfaces, renames and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tars2rs(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tars2rs"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn writes_one_file_per_module_with_diamond_includes() {
    let d = dir("diamond");
    std::fs::create_dir_all(d.join("inc")).unwrap();
    std::fs::write(
        d.join("inc/Base.tars"),
        "module Base { struct Id { 0 require long v; }; };",
    )
    .unwrap();
    // Left and Right both include Base; Top includes both: Base is read once.
    std::fs::write(
        d.join("inc/Left.tars"),
        "#include \"Base.tars\"\nmodule Left { struct L { 0 optional Base::Id id; }; };",
    )
    .unwrap();
    std::fs::write(
        d.join("Right.tars"),
        "#include \"Base.tars\"\nmodule Right { struct R { 0 optional Base::Id id; }; };",
    )
    .unwrap();
    std::fs::write(
        d.join("Top.tars"),
        "#include \"Left.tars\"\n#include \"Right.tars\"\nmodule TopApp { struct T { 0 optional Left::L l; 1 optional Right::R r; }; };",
    )
    .unwrap();
    let o = tars2rs(&d, &["--include", "inc", "--out", "out", "Top.tars"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mod_rs = std::fs::read_to_string(d.join("out/mod.rs")).unwrap();
    let decls: Vec<&str> = mod_rs
        .lines()
        .filter(|l| l.starts_with("pub mod"))
        .collect();
    assert_eq!(
        decls,
        [
            "pub mod top_app;",
            "pub mod left;",
            "pub mod base;",
            "pub mod right;"
        ]
    );
    let top = std::fs::read_to_string(d.join("out/top_app.rs")).unwrap();
    assert!(top.contains("pub l: super::left::L,"), "{top}");
    let base = std::fs::read_to_string(d.join("out/base.rs")).unwrap();
    assert_eq!(base.matches("pub struct Id").count(), 1, "{base}");
}

#[test]
fn bad_idl_exits_1_with_file_line_column() {
    let d = dir("bad");
    std::fs::write(
        d.join("Bad.tars"),
        "module M {\n  struct S { 0 optional int a }; };",
    )
    .unwrap();
    let o = tars2rs(&d, &["--out", "out", "Bad.tars"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        "Bad.tars:2:31: expected `;` after a struct member, found `}`"
    );
    assert!(!d.join("out/mod.rs").exists());

    std::fs::write(
        d.join("Inc.tars"),
        "#include \"Missing.tars\"\nmodule M { };",
    )
    .unwrap();
    let o = tars2rs(&d, &["--out", "out", "Inc.tars"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("Inc.tars:1:1: cannot find included file \"Missing.tars\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn push_interfaces_by_configuration() {
    let d = dir("push");
    let idl = "module TestApp { interface Hello { int registerPush(); }; interface Push { int pushMsg(out string sRsp); }; };";
    std::fs::write(d.join("Push.tars"), idl).unwrap();
    let o = tars2rs(&d, &["--push", "TestApp.Push", "--out", "out", "Push.tars"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let code = std::fs::read_to_string(d.join("out/test_app.rs")).unwrap();
    assert!(
        code.contains("#[::tars_core::tars_push]\npub trait Push {"),
        "{code}"
    );
    assert!(
        code.contains("#[::tars_core::tars_interface]\npub trait Hello {"),
        "{code}"
    );

    // Without --push, Push is an ordinary interface.
    let o = tars2rs(&d, &["--out", "out2", "Push.tars"]);
    assert!(o.status.success());
    let code = std::fs::read_to_string(d.join("out2/test_app.rs")).unwrap();
    assert!(!code.contains("tars_push"), "{code}");

    let o = tars2rs(
        &d,
        &["--push", "TestApp.Nope", "--out", "out3", "Push.tars"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("push interface `TestApp.Nope` is not defined"),
        "{}",
        stderr(&o)
    );

    let o = tars2rs(
        &d,
        &["--push", "TestApp.Hello", "--out", "out4", "Push.tars"],
    );
    assert!(
        o.status.success(),
        "an interface without in parameters can be a push interface"
    );
    std::fs::write(
        d.join("In.tars"),
        "module M { interface P { int f(int x); }; };",
    )
    .unwrap();
    let o = tars2rs(&d, &["--push", "M.P", "--out", "out5", "In.tars"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        "In.tars:1:36: push interface `M.P`: `f` has the in parameter `x`; a push carries only a return value and out parameters"
    );
}

#[test]
fn rename_settles_a_collision() {
    let d = dir("rename");
    let idl = "module M { struct User { 0 optional int userId; 1 optional int user_id; }; };";
    std::fs::write(d.join("U.tars"), idl).unwrap();
    let o = tars2rs(&d, &["--out", "out", "U.tars"]);
    assert_eq!(o.status.code(), Some(1));
    let o = tars2rs(
        &d,
        &[
            "--rename",
            "M.User.user_id=user_id2",
            "--out",
            "out",
            "U.tars",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let code = std::fs::read_to_string(d.join("out/m.rs")).unwrap();
    assert!(
        code.contains("pub user_id: i32,") && code.contains("pub user_id2: i32,"),
        "{code}"
    );
    std::fs::write(
        d.join("V.tars"),
        "module M { struct User { 0 optional int a; }; };",
    )
    .unwrap();
    let o = tars2rs(
        &d,
        &["--rename", "M.User.nobody=x", "--out", "out", "V.tars"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rename `M.User.nobody` matches no IDL item"));
}
