//! The types of TarsCpp's `AuthF.tars` that travel on the wire (module `tars`).

use crate::codec::ByteString;
use crate::TarsStruct;

/// `tars.BasicAuthPackage`: what a client sends as the `sBuffer` of its auth request.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "tars.BasicAuthPackage")]
pub struct BasicAuthPackage {
    /// The object called (`App.Server.Obj`); must be the adapter's servant.
    #[tars(tag = 1, require)]
    pub obj_name: String,
    /// The access key.
    #[tars(tag = 2, require)]
    pub access_key: String,
    /// When the package was made, Unix seconds.
    #[tars(tag = 3, require)]
    pub time: i64,
    /// Only `sha1` is supported.
    #[tars(tag = 4, default = "sha1")]
    pub hash_method: String,
    /// The 3DES-encrypted `secret1` (binary, in a TARS string).
    #[tars(tag = 5)]
    pub signature: ByteString,
}

/// `tars.AUTH_STATE`: the outcome of checking a [`BasicAuthPackage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthState {
    /// Accepted.
    Succ,
    /// The package does not decode (or is 20 bytes or less).
    ProtoErr,
    /// `sObjName` is not the servant of the adapter.
    WrongObj,
    /// Unknown access key (or the adapter has no key).
    WrongAk,
    /// `iTime` is an hour or more away from the server's clock.
    WrongTime,
    /// `sHashMethod` is not `sha1`.
    NotSupportEnc,
    /// The signature does not decrypt.
    DecFail,
    /// The signature decrypts to the wrong secret: a wrong secret key.
    Error,
}

impl AuthState {
    /// The IDL value (`AUTH_SUCC` = 0, `AUTH_PROTO_ERR` = -100, ...).
    pub fn code(self) -> i32 {
        match self {
            AuthState::Succ => 0,
            AuthState::ProtoErr => -100,
            AuthState::WrongObj => -101,
            AuthState::WrongAk => -102,
            AuthState::WrongTime => -103,
            AuthState::NotSupportEnc => -104,
            AuthState::DecFail => -105,
            AuthState::Error => -106,
        }
    }

    /// The IDL name, which is also what the server's response carries (`AUTH_SUCC`).
    pub fn name(self) -> &'static str {
        match self {
            AuthState::Succ => "AUTH_SUCC",
            AuthState::ProtoErr => "AUTH_PROTO_ERR",
            AuthState::WrongObj => "AUTH_WRONG_OBJ",
            AuthState::WrongAk => "AUTH_WRONG_AK",
            AuthState::WrongTime => "AUTH_WRONG_TIME",
            AuthState::NotSupportEnc => "AUTH_NOT_SUPPORT_ENC",
            AuthState::DecFail => "AUTH_DEC_FAIL",
            AuthState::Error => "AUTH_ERROR",
        }
    }
}

impl std::fmt::Display for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
