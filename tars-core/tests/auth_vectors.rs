//! The AK/SK signature against an independent implementation: `support/auth_vectors.py`
//! (Python's hashlib and pycryptodome's 3DES). The test makes its own virtualenv under the
//! target directory and installs pycryptodome into it with pip: it needs only `python3`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tars_core::auth::{signature, verify, AuthKey, AuthState};
use tars_core::TarsStruct;

fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_python).clone()
}

fn make_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyvenv-auth");
    let bin = venv.join("bin").join("python");
    if !bin.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for this test");
        assert!(ok.success(), "python3 -m venv failed");
    }
    let has = Command::new(&bin)
        .args(["-c", "import Crypto.Cipher.DES3"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if !has.success() {
        let ok = Command::new(&bin)
            .args(["-m", "pip", "install", "-q", "pycryptodome"])
            .status()
            .unwrap();
        assert!(ok.success(), "pip install pycryptodome failed");
    }
    bin
}

fn run_script(input: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/auth_vectors.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "auth_vectors.py failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

const CASES: &[(&str, i64)] = &[
    ("123456", 1_700_000_000),
    ("123456", 0),
    ("", 1),
    ("a-much-longer-secret-key-with-punctuation!?", 1_234_567_890),
    ("sk", -1),
    ("中文密钥", 4_102_444_800),
];

#[test]
fn signatures_match_an_independent_implementation() {
    let input: String = CASES
        .iter()
        .map(|(sk, t)| format!("sign x{} {t}\n", hex(sk.as_bytes())))
        .collect();
    let theirs = run_script(&input);
    assert_eq!(theirs.len(), CASES.len());
    for ((sk, t), theirs) in CASES.iter().zip(&theirs) {
        assert_eq!(
            &hex(&signature(sk.as_bytes(), *t)),
            theirs,
            "secret {sk:?} time {t}"
        );
    }
}

#[test]
fn the_independent_implementation_accepts_our_signatures_and_we_accept_theirs() {
    let mut input = String::new();
    for (sk, t) in CASES {
        let sig = hex(&signature(sk.as_bytes(), *t));
        input += &format!("check x{} {t} {sig}\n", hex(sk.as_bytes()));
        // A wrong secret must be refused.
        input += &format!("check x{}78 {t} {sig}\n", hex(sk.as_bytes()));
    }
    let verdicts = run_script(&input);
    let expected: Vec<&str> = CASES.iter().flat_map(|_| ["ok", "bad"]).collect();
    assert_eq!(verdicts, expected);
    // And their signature, in a package, passes our server-side check.
    let theirs = run_script(&format!("sign x{} 1700000000\n", hex(b"123456")));
    let key = AuthKey::new("ak", "123456");
    let mut pkg = key.package("A.B.Obj", 1_700_000_000);
    let sig: Vec<u8> = (0..theirs[0].len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&theirs[0][i..i + 2], 16).unwrap())
        .collect();
    pkg.signature.0 = sig.into();
    let body = pkg.to_tars_bytes();
    assert_eq!(
        verify(&body, "A.B.Obj", Some(&key), 1_700_000_100),
        AuthState::Succ
    );
    let other = AuthKey::new("ak", "1234567");
    assert_eq!(
        verify(&body, "A.B.Obj", Some(&other), 1_700_000_100),
        AuthState::Error
    );
}
