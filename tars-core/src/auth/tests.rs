use super::*;
use crate::TarsStruct;

const OBJ: &str = "Test.HelloServer.HelloObj";
const T: i64 = 1_700_000_000;

fn body(key: &AuthKey, obj: &str, time: i64) -> bytes::Bytes {
    key.package(obj, time).to_tars_bytes()
}

#[test]
fn a_signed_package_verifies() {
    let key = AuthKey::new("ak", "123456");
    assert_eq!(signature(b"123456", T).len(), 48);
    assert_eq!(
        verify(&body(&key, OBJ, T), OBJ, Some(&key), T),
        AuthState::Succ
    );
    assert_eq!(
        verify(&body(&key, OBJ, T), OBJ, Some(&key), T + 3599),
        AuthState::Succ
    );
}

#[test]
fn every_refusal_has_its_state() {
    let key = AuthKey::new("ak", "123456");
    let good = body(&key, OBJ, T);
    let wrong_secret = body(&AuthKey::new("ak", "654321"), OBJ, T);
    assert_eq!(verify(&wrong_secret, OBJ, Some(&key), T), AuthState::Error);
    assert_eq!(
        verify(&good, "Other.Obj", Some(&key), T),
        AuthState::WrongObj
    );
    let other_ak = body(&AuthKey::new("other", "123456"), OBJ, T);
    assert_eq!(verify(&other_ak, OBJ, Some(&key), T), AuthState::WrongAk);
    assert_eq!(verify(&good, OBJ, None, T), AuthState::WrongAk);
    assert_eq!(
        verify(&good, OBJ, Some(&key), T + 3600),
        AuthState::WrongTime
    );
    assert_eq!(
        verify(&good, OBJ, Some(&key), T - 3600),
        AuthState::WrongTime
    );
    assert_eq!(
        verify(&good, OBJ, Some(&key), i64::MIN),
        AuthState::WrongTime
    );
    let mut md5 = key.package(OBJ, T);
    md5.hash_method = "md5".into();
    assert_eq!(
        verify(&md5.to_tars_bytes(), OBJ, Some(&key), T),
        AuthState::NotSupportEnc
    );
    let mut cut = key.package(OBJ, T);
    cut.signature.0 = cut.signature.0.slice(..47);
    assert_eq!(
        verify(&cut.to_tars_bytes(), OBJ, Some(&key), T),
        AuthState::DecFail
    );
    cut.signature.0 = bytes::Bytes::new();
    assert_eq!(
        verify(&cut.to_tars_bytes(), OBJ, Some(&key), T),
        AuthState::DecFail
    );
    assert_eq!(
        verify(&good.slice(..20), OBJ, Some(&key), T),
        AuthState::ProtoErr
    );
    let junk = bytes::Bytes::from(vec![0xffu8; 64]);
    assert_eq!(verify(&junk, OBJ, Some(&key), T), AuthState::ProtoErr);
}

#[test]
fn the_default_hash_method_is_not_written() {
    // TarsCpp omits an optional field equal to its IDL default, and reads it back as "sha1".
    let pkg = AuthKey::new("ak", "sk").package(OBJ, T);
    let decoded = BasicAuthPackage::from_tars_bytes(pkg.to_tars_bytes()).unwrap();
    assert_eq!(decoded, pkg);
    let fields = crate::codec::TarsValue::decode_all(pkg.to_tars_bytes()).unwrap();
    let tags: Vec<u8> = fields.iter().map(|f| f.tag).collect();
    assert_eq!(tags, [1, 2, 3, 5]);
}

#[test]
fn debug_hides_the_secret() {
    let shown = format!("{:?}", AuthKey::new("ak", "very-secret"));
    assert!(
        shown.contains("ak") && !shown.contains("very-secret"),
        "{shown}"
    );
}
