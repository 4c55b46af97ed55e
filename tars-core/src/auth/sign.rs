//! The signature of a [`BasicAuthPackage`] and its check (see the module docs for the recipe).

use super::{AuthKey, AuthState, BasicAuthPackage, MAX_TIME_SKEW_SECS};
use crate::TarsStruct;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::TdesEde3;
use md5::Md5;
use sha1::{Digest, Sha1};

fn hex(digest: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    digest
        .iter()
        .flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]])
        .collect()
}

fn sha1_hex(data: &[u8]) -> Vec<u8> {
    hex(&Sha1::digest(data))
}

/// The 3DES cipher keyed by `secret2` and `time`.
fn cipher(secret2: &[u8], time: i64) -> TdesEde3 {
    let mut tmp = secret2.to_vec();
    for (b, t) in tmp.iter_mut().zip(time.to_le_bytes()) {
        *b |= t;
    }
    let key = hex(&Md5::digest(&tmp));
    TdesEde3::new(GenericArray::from_slice(&key[..24]))
}

/// The `sSignature` for the secret key `secret_key` at `time` (Unix seconds).
pub fn signature(secret_key: &[u8], time: i64) -> Vec<u8> {
    let secret1 = sha1_hex(secret_key);
    let secret2 = sha1_hex(&secret1);
    let cipher = cipher(&secret2, time);
    // PKCS#5: 1..=8 bytes of padding, each holding the count.
    let pad = 8 - secret1.len() % 8;
    let mut data = secret1;
    data.resize(data.len() + pad, pad as u8);
    for block in data.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    data
}

/// Checks the encoded package `body` (the auth request's `sBuffer`) against the adapter's
/// servant `expect_obj` and key, with the server's clock at `now` (Unix seconds), in
/// TarsCpp's order: decode, object, access key, time, hash method, signature.
pub fn verify(body: &bytes::Bytes, expect_obj: &str, key: Option<&AuthKey>, now: i64) -> AuthState {
    if body.len() <= 20 {
        return AuthState::ProtoErr;
    }
    let Ok(pkg) = BasicAuthPackage::from_tars_bytes(body.clone()) else {
        return AuthState::ProtoErr;
    };
    if pkg.obj_name != expect_obj {
        return AuthState::WrongObj;
    }
    let Some(key) = key.filter(|k| k.access_key == pkg.access_key && !k.secret_key.is_empty())
    else {
        return AuthState::WrongAk;
    };
    if pkg.time <= now.saturating_sub(MAX_TIME_SKEW_SECS)
        || pkg.time >= now.saturating_add(MAX_TIME_SKEW_SECS)
    {
        return AuthState::WrongTime;
    }
    if pkg.hash_method != "sha1" {
        return AuthState::NotSupportEnc;
    }
    let sig = &pkg.signature.0;
    if sig.is_empty() || sig.len() % 8 != 0 {
        return AuthState::DecFail;
    }
    let secret2 = sha1_hex(&sha1_hex(key.secret_key.as_bytes()));
    let cipher = cipher(&secret2, pkg.time);
    let mut data = sig.to_vec();
    for block in data.chunks_exact_mut(8) {
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
    }
    // As TarsCpp: drop as many bytes as the last one (a signed char) says; if that is
    // negative or more than there are, nothing is left (and the check below fails).
    let pad = *data.last().unwrap_or(&0) as i8;
    match usize::try_from(pad) {
        Ok(pad) if pad <= data.len() => data.truncate(data.len() - pad),
        _ => data.clear(),
    }
    // The comparison runs over every byte, whatever differs first.
    let computed = sha1_hex(&data);
    let same = computed.len() == secret2.len()
        && computed
            .iter()
            .zip(&secret2)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        AuthState::Succ
    } else {
        AuthState::Error
    }
}
