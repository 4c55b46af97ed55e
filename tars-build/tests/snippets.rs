//! A table of small IDL snippets, each with the Rust it must generate (substrings, in
//! order) or the exact error (`t.tars:line:column: message`).

use std::path::{Path, PathBuf};

enum Expect {
    /// These pieces appear in the generated code, in this order (layout-insensitive).
    Code(&'static [&'static str]),
    /// This exact error.
    Error(&'static str),
}
use Expect::*;

const CASES: &[(&str, &str, Expect)] = &[
    // Numbers, as tars.l and strtoll read them.
    ("octal 08 is 0", "module M { const int A = 08; };", Code(&["pub const A: i32 = 0;"])),
    ("octal 010", "module M { const int A = 010; };", Code(&["pub const A: i32 = 8;"])),
    ("hex", "module M { const long A = 0x1F; const int B = -0x10; };", Code(&["pub const A: i64 = 31;", "pub const B: i32 = -16;"])),
    ("0X10 is not hex", "module M { const int A = 0X10; };", Error("t.tars:1:27: expected `;` after a const, found `X10`")),
    ("- 1 is an error", "module M { const int A = - 1; };", Error("t.tars:1:26: expected a value (integer, number, string, true, false or an enumerator), found `-`")),
    ("+1 is 1", "module M { const int A = +1; };", Code(&["pub const A: i32 = 1;"])),
    ("int out of range", "module M { const long A = 9223372036854775808; };", Error("t.tars:1:27: integer constant `9223372036854775808' out of range")),
    ("long min", "module M { const long A = -9223372036854775808; };", Code(&["pub const A: i64 = i64::MIN;"])),
    ("floats", "module M { const float A = 1.5f; const double B = .5; const double C = 1e3; const double D = -2.; };",
        Code(&["pub const A: f32 = 1.5;", "pub const B: f64 = 0.5;", "pub const C: f64 = 1000.0;", "pub const D: f64 = -2.0;"])),
    ("unsigned wraps as C++", "module M { const unsigned int A = -1; const unsigned byte B = 255; const byte C = 200; };",
        Code(&["pub const A: u32 = 4294967295;", "pub const B: u8 = 255;", "pub const C: i8 = -56;"])),
    ("string escapes", r#"module M { const string S = "a\tb\x41\101\"\\"; };"#, Code(&[r#"pub const S: &str = "a\tbAA\"\\";"#])),
    ("NUL in a string", r#"module M { const string S = "a\0"; };"#, Error("t.tars:1:31: illegal NUL character in string constant")),
    ("newline in a string", "module M { const string S = \"a\n\"; };", Error("t.tars:1:31: newline in a string")),
    ("bool const", "module M { const bool B = true; };", Code(&["pub const B: bool = true;"])),
    ("const type check", "module M { const int A = \"x\"; };", Error("t.tars:1:26: only a string can have a \"string\" value")),
    ("lower-case const keeps its name", "module M { const int maxLen = 3; };", Code(&["#[allow(non_upper_case_globals)]", "pub const maxLen: i32 = 3;"])),
    // Enums.
    ("enum values", "module M { enum E { A = -1, B, C = 10, D = 3, F, }; };",
        Code(&["#[tars(value = -1)]", "A,", "#[tars(value = 0)]", "B,", "#[tars(value = 10)]", "C,", "#[tars(value = 3)]", "D,", "#[tars(value = 4)]", "F,", "#[tars(unknown)]", "Unknown(i32),"])),
    ("enumerator names", "module M { enum Color { RED_ONE, eGreen }; };", Code(&["RedOne,", "EGreen,"])),
    ("enum value from another enumerator", "module M { enum E { A = 4, B = A }; };", Code(&["#[tars(value = 4)]", "A,", "#[tars(value = 4)]", "B,"])),
    ("an UNKNOWN enumerator", "module M { enum E { UNKNOWN = 0 }; };", Code(&["Unknown,", "UnknownValue(i32),"])),
    ("empty enum", "module M { enum E { }; };", Error("t.tars:1:17: enum `E` has no enumerators")),
    ("duplicate enumerator", "module M { enum E { A, A }; };", Error("t.tars:1:24: enumerator `A` is defined twice in enum `E`")),
    // Structs.
    ("require and optional, tags in any order with gaps",
        "module M { struct S { 7 optional int b; 0 require string a; 200 optional long c; }; };",
        Code(&["#[tars(name = \"M.S\")]", "#[tars(tag = 0, require)]", "pub a: String,", "#[tars(tag = 7)]", "pub b: i32,", "#[tars(tag = 200)]", "pub c: i64,"])),
    ("defaults of every kind",
        "module M { enum C { R, G = 5, B }; struct S { 0 optional int i = -3; 1 optional string s = \"x\"; 2 optional bool t = true; 3 optional double d = 1.5; 4 optional C c = B; 5 optional C g = 5; 6 optional C u = 9; 7 optional M::C q = M::G; 8 optional int z = 0; 9 optional float f = 2; }; };",
        Code(&["default = -3", "default = \"x\"", "default = true", "default = 1.5", "default = C::B", "default = C::G", "default = C::Unknown(9)", "default = C::G", "#[tars(tag = 8)]", "pub z: i32", "default = 2.0"])),
    ("enum default of another enum", "module M { enum C { R }; enum D { X }; struct S { 0 optional C c = X; }; };", Error("t.tars:1:68: `X` is not an enumerator of enum `C`")),
    ("bool default check", "module M { struct S { 0 optional bool b = 1; }; };", Error("t.tars:1:43: the default of a bool can only be true or false")),
    ("struct default", "module M { struct A { 0 optional int x; }; struct S { 0 optional A a = 1; }; };", Error("t.tars:1:72: only builtin types and enums can have a default value")),
    ("unsigned types", "module M { struct S { 0 optional unsigned byte a; 1 optional unsigned short b; 2 optional unsigned int c; }; };",
        Code(&["pub a: u8,", "pub b: u16,", "pub c: u32,"])),
    ("vector<byte> vs vector<unsigned byte>",
        "module M { struct S { 0 optional vector<byte> a; 1 optional vector<unsigned byte> b; 2 optional map<string, vector<byte>> c; 3 optional vector<vector<byte>> d; }; };",
        Code(&["pub a: Vec<u8>,", "pub b: Vec<i16>,", "pub c: BTreeMap<String, Vec<u8>>,", "pub d: Vec<Vec<u8>>,"])),
    ("nested containers", "module M { struct S { 0 optional map<int, vector<map<string, double>>> m; }; };", Code(&["pub m: BTreeMap<i32, Vec<BTreeMap<String, f64>>>,"])),
    ("self-recursive vector<Self>", "module M { struct Node { 0 optional vector<Node> kids; 1 optional map<string, Node> named; }; };", Code(&["pub kids: Vec<Node>,", "pub named: BTreeMap<String, Node>,"])),
    ("a struct holding itself", "module M { struct N { 0 optional N n; }; };", Error("t.tars:1:36: struct `N` cannot hold itself (field `n`); use vector<N> for a recursive type")),
    ("key in non-tag order",
        "module M { struct K { 0 require int a; 1 require string b; 2 optional double c; }; key[K, b, a]; };",
        Code(&["impl ::core::cmp::Eq for K {}", "Orders by `b, a`", "::core::cmp::Ordering::Equal", "Ord::cmp(&self.b, &other.b)", "Ord::cmp(&self.a, &other.a)"])),
    ("struct map key without key[] compares all fields",
        "module M { struct K { 0 require int a; 1 optional float f; }; struct S { 0 optional map<K, int> m; }; };",
        Code(&["impl ::core::cmp::Ord for K", "Ord::cmp(&self.a, &other.a)", "self.f.total_cmp(&other.f)", "pub m: BTreeMap<K, i32>,"])),
    ("float map key", "module M { struct S { 0 optional map<double, int> m; }; };", Error("t.tars:1:51: float and double cannot be (inside) a map key: Rust maps need ordered keys")),
    ("key member unknown", "module M { struct K { 0 require int a; }; key[K, z]; };", Error("t.tars:1:50: key member `z` is not a member of struct `K`")),
    ("fixed arrays and pointers as tars2cpp", "module M { struct S { 0 optional int a[4]; 1 optional byte *p; 2 optional string:8 s; 3 optional vector<int>:2 v; }; };",
        Code(&["pub a: Vec<i32>,", "pub p: Vec<u8>,", "pub s: String,", "pub v: Vec<i32>,"])),
    ("pointer of int", "module M { struct S { 0 optional int *p; }; };", Error("t.tars:1:34: only `byte *` can be a pointer type")),
    ("duplicate tag", "module M { struct S { 0 optional int a; 0 optional int b; }; };", Error("t.tars:1:41: member `b` has the same tag 0 as `a`")),
    ("tag out of range", "module M { struct S { 256 optional int a; }; };", Error("t.tars:1:23: struct member tag 256 is out of range: tags are 0 to 255")),
    ("no require/optional", "module M { struct S { 0 int a; }; };", Error("t.tars:1:25: expected `require` or `optional` after the tag, found `int`")),
    ("missing ;", "module M { struct S { 0 optional int a }; };", Error("t.tars:1:40: expected `;` after a struct member, found `}`")),
    ("empty struct", "module M { struct S { }; };", Error("t.tars:1:19: struct `S` must have at least one member")),
    ("keyword as a name", "module M { struct S { 0 optional int struct; }; };", Error("t.tars:1:38: keyword `struct` cannot be used as a struct member name")),
    ("Rust keyword as a name", "module M { struct S { 0 optional int type; 1 optional int self; }; };", Code(&["pub r#type: i32,", "pub self_: i32,"])),
    ("name collision", "module M { struct User { 0 optional int userId; 1 optional int user_id; }; };",
        Error("t.tars:1:64: member `user_id` and member `userId` (at t.tars:1:41) both become the Rust name `user_id`; rename one (tars2rs --rename M.User.user_id=NEW_NAME, or .rename(\"M.User.user_id\", \"NEW_NAME\") in build.rs)")),
    ("unknown type", "module M { struct S { 0 optional Foo f; }; };", Error("t.tars:1:34: type `Foo` is not defined in module `M`")),
    ("unqualified names look only in their module", "module A { struct T { 0 optional int x; }; }; module B { struct S { 0 optional T t; }; };", Error("t.tars:1:80: type `T` is not defined in module `B`")),
    // Modules.
    ("M::T across modules", "module A { struct T { 0 optional int x; }; }; module B { struct S { 0 optional A::T t; 1 optional vector<A::T> v; }; };",
        Code(&["pub t: super::a::T,", "pub v: Vec<super::a::T>,"])),
    ("reopened module merges", "module M { struct A { 0 optional int x; }; }; module M { struct B { 0 optional A a; }; };", Code(&["pub struct A", "pub struct B", "pub a: A,"])),
    ("module without ; (tars2php)", "module M { const int A = 1; }", Code(&["pub const A: i32 = 1;"])),
    ("nested module", "module M { module N { }; };", Error("t.tars:1:12: modules cannot be nested")),
    ("struct outside a module", "struct S { 0 optional int a; };", Error("t.tars:1:1: `struct` must be defined inside a module")),
    ("duplicate struct", "module M { struct S { 0 optional int a; }; enum S { A }; };", Error("t.tars:1:49: enum `M::S` conflicts with struct `M::S` (line 1)")),
    // Interfaces.
    ("interface: out, routekey, void",
        "module M { interface Hi { int sayHello(string name, out string greeting); void notify(routekey string uid); }; };",
        Code(&["#[::tars_core::tars_interface]", "pub trait Hi {", "/// `int sayHello(string name, out string greeting)`",
               "async fn say_hello(&self, current: &::tars_core::Current, name: String, greeting: &mut String) -> ::tars_core::TarsResult<i32>;",
               "async fn notify(&self, current: &::tars_core::Current, uid: String) -> ::tars_core::TarsResult<()>;"])),
    ("wire names that snake_case changes", "module M { interface I { int getXML(out string sXML); }; };",
        Code(&["#[tars(name = \"getXML\")]", "async fn get_xml(", "#[tars(name = \"sXML\")]", "s_xml: &mut String"])),
    ("parameters named like generated locals", "module M { interface I { int f(int params, out int w, out int current); }; };", Code(&["params: i32", "w: &mut i32", "current_: &mut i32"])),
    ("op named like a generated helper", "module M { interface I { int doClose(); }; };",
        Error("t.tars:1:30: operation `doClose` and the generated method `do_close` (at t.tars:1:22) both become the Rust name `do_close`; rename one (tars2rs --rename M.I.doClose=NEW_NAME, or .rename(\"M.I.doClose\", \"NEW_NAME\") in build.rs)")),
    ("type named like a generated one", "module M { interface Hi { int f(); }; struct HiProxy { 0 optional int a; }; };",
        Error("t.tars:1:46: struct `HiProxy` and `HiProxy` generated for interface `Hi` (at t.tars:1:22) both become the Rust name `HiProxy`; rename one (tars2rs --rename M.HiProxy=NEW_NAME, or .rename(\"M.HiProxy\", \"NEW_NAME\") in build.rs)")),
    ("duplicate operation", "module M { interface I { int f(); int f(); }; };", Error("t.tars:1:39: operation `f` is defined twice in interface `I`")),
    ("param named as its op", "module M { interface I { int f(int f); }; };", Error("t.tars:1:36: parameter `f` has the name of its operation")),
    ("out without a type", "module M { interface I { int f(out); }; };", Error("t.tars:1:35: expected a type after `out`, found `)`")),
    ("interface named as its module", "module M { interface M { int f(); }; };", Error("t.tars:1:22: interface `M` must not have the name of its module")),
];

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("snippets");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Without whitespace and trailing commas, so line breaking does not matter.
fn squash(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    s.replace(",)", ")").replace(",}", "}")
}

#[test]
fn snippet_table() {
    let dir = scratch();
    let mut failures = Vec::new();
    for (i, (name, idl, expect)) in CASES.iter().enumerate() {
        let case_dir = dir.join(format!("case{i}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        std::fs::write(case_dir.join("t.tars"), idl).unwrap();
        // Relative path, so messages read `t.tars:...`.
        let result = std::env::set_current_dir(&case_dir)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                tars_build::configure()
                    .generate(&["t.tars"], &[] as &[&str])
                    .map_err(|e| e.to_string())
            });
        match (expect, result) {
            (Code(pieces), Ok(generated)) => {
                let code = squash(
                    &generated
                        .modules
                        .iter()
                        .map(|m| m.code.as_str())
                        .collect::<String>(),
                );
                let mut at = 0;
                for piece in *pieces {
                    match code[at..].find(squash(piece).trim_end_matches(',')) {
                        Some(p) => at += p + 1,
                        None => {
                            failures.push(format!(
                                "{name}: `{piece}` not found (in order) in:\n{code}"
                            ));
                            break;
                        }
                    }
                }
            }
            (Code(_), Err(e)) => failures.push(format!("{name}: unexpected error {e}")),
            (Error(want), Err(got)) if got == *want => {}
            (Error(want), Err(got)) => {
                failures.push(format!("{name}:\n  want {want}\n  got  {got}"))
            }
            (Error(want), Ok(_)) => failures.push(format!("{name}: compiled, expected {want}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
