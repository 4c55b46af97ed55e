//! Compile tests of the macros. Each case in `tests/ui/` must be refused with the message in
//! its `.stderr` file (regenerate those with `TRYBUILD=overwrite cargo test --test ui` after
//! changing a message on purpose). Each case in `tests/ui-pass/` must compile and run: user
//! parameters named like the generated code's locals work, servant and proxy side.

#[test]
fn macros_refuse_misuse_and_accept_any_parameter_name() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
