//! Compile-failure tests of `#[tars_interface]`, `#[derive(TarsStruct)]` and
//! `#[derive(TarsEnum)]`: each case in `tests/ui/` must be refused with the message in its
//! `.stderr` file. Regenerate those with `TRYBUILD=overwrite cargo test --test ui` after
//! changing a message on purpose.

#[test]
fn macro_misuse_is_refused_with_a_clear_message() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
