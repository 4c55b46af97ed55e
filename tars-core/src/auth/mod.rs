//! AK/SK authentication of `-e 1` endpoints, byte-compatible with TarsCpp.
//!
//! The first frame a client sends on a new connection to an `-e 1` endpoint is a
//! [`RequestPacket`](crate::protocol::RequestPacket) for the function
//! [`AUTH_FUNC`] with message type [`AUTH_MESSAGE_TYPE`], whose `sBuffer` is an encoded
//! [`BasicAuthPackage`]. The server answers with a response whose `sBuffer` is the text
//! `AUTH_SUCC`, or closes the connection; nothing else is served before.
//!
//! The signature, with `hex` the lowercase hex of a digest:
//!
//! - `secret1 = hex(sha1(secret_key))`, `secret2 = hex(sha1(secret1))` (40 ASCII bytes each);
//! - `tmp = secret2` with its first 8 bytes OR-ed with the little-endian bytes of `iTime`;
//! - `key = hex(md5(tmp))` (32 bytes), of which the first 24 are the 3DES (EDE3, ECB) key;
//! - `sSignature = 3des_encrypt(key, secret1)` with PKCS#5 padding (48 bytes).
//!
//! The server recomputes `secret2` from its own copy of the secret key, decrypts the
//! signature with the key made from `secret2` and `iTime`, and accepts when
//! `hex(sha1(decrypted)) == secret2` and `iTime` is within an hour of its clock.

mod package;
mod sign;

pub use package::{AuthState, BasicAuthPackage};
pub use sign::{signature, verify};

use std::fmt;

/// `iMessageType` of the auth request and its response.
pub const AUTH_MESSAGE_TYPE: i32 = 0x40;
/// `sFuncName` of the auth request.
pub const AUTH_FUNC: &str = "InnerAuthServer";
/// Largest accepted difference between the client's `iTime` and the server's clock, in
/// seconds (exclusive, as TarsCpp).
pub const MAX_TIME_SKEW_SECS: i64 = 60 * 60;

/// An access key and its secret (TarsCpp's `accesskey` / `secretkey`). `Debug` does not show
/// the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// The access key: sent in clear, names the account.
    pub access_key: String,
    /// The secret key: never sent.
    pub secret_key: String,
}

impl AuthKey {
    /// A key pair.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        AuthKey {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
        }
    }

    /// The package a client sends for the object `obj` at `time` (Unix seconds).
    pub fn package(&self, obj: &str, time: i64) -> BasicAuthPackage {
        BasicAuthPackage {
            obj_name: obj.to_string(),
            access_key: self.access_key.clone(),
            time,
            hash_method: "sha1".to_string(),
            signature: crate::codec::ByteString(signature(self.secret_key.as_bytes(), time).into()),
        }
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .finish()
    }
}

/// Seconds since the Unix epoch, as `iTime` carries them.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
