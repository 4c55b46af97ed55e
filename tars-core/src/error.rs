//! [`TarsError`]: the error type users see, keeping the TARS return code and description.

use crate::codec::DecodeError;
use crate::protocol::{self, ret_code_name};

/// `Result` with [`TarsError`].
pub type TarsResult<T> = Result<T, TarsError>;

/// Everything that can go wrong in a call, a servant or a server, with its TARS return code
/// ([`TarsError::code`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TarsError {
    /// The peer answered with a non-zero return code (or a servant wants to answer with one).
    #[error("{}", fmt_ret(*code, desc))]
    Ret {
        /// The TARS return code (`iRet`).
        code: i32,
        /// The description (`sResultDesc`).
        desc: String,
    },
    /// No response within the call's timeout.
    #[error("call timed out after {0} ms")]
    Timeout(u64),
    /// The connection could not be made.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// The connection closed while the call was in flight or being sent.
    #[error("connection closed: {0}")]
    ConnectionClosed(String),
    /// A packet or a parameter could not be decoded.
    #[error("decode error: {0}")]
    Decode(#[from] DecodeError),
    /// An endpoint or proxy string is malformed.
    #[error("invalid endpoint: {0}")]
    InvalidEndpoint(String),
    /// The proxy has no endpoint to call.
    #[error("no endpoint available for {0}")]
    NoEndpoint(String),
    /// A local I/O error (bind, listen).
    #[error("I/O error: {0}")]
    Io(String),
    /// The call is not possible in this state (e.g. a push callback set twice).
    #[error("{0}")]
    Invalid(String),
    /// An outgoing frame (request, response or push) is larger than the frame limit: only
    /// this call or push fails, nothing of it is sent and the connection stays up.
    #[error("frame of {size} bytes exceeds the frame limit of {limit} bytes")]
    FrameTooLarge {
        /// The encoded frame's size in bytes.
        size: usize,
        /// The limit (`max_frame_len`) it exceeds.
        limit: usize,
    },
}

fn fmt_ret(code: i32, desc: &str) -> String {
    let name = ret_code_name(code)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    if desc.is_empty() {
        format!("return code {code}{name}")
    } else {
        format!("return code {code}{name}: {desc}")
    }
}

impl TarsError {
    /// An error with a TARS return code and description, for a servant to answer with.
    pub fn ret(code: i32, desc: impl Into<String>) -> Self {
        TarsError::Ret {
            code,
            desc: desc.into(),
        }
    }

    /// The TARS return code this error stands for.
    pub fn code(&self) -> i32 {
        match self {
            TarsError::Ret { code, .. } => *code,
            TarsError::Timeout(_) => protocol::INVOKE_TIMEOUT,
            TarsError::Connect { .. } => protocol::PROXY_CONNECT_ERR,
            TarsError::ConnectionClosed(_) => protocol::SEND_REQUEST_ERR,
            TarsError::Decode(_) => protocol::CLIENT_DECODE_ERR,
            TarsError::FrameTooLarge { .. } => protocol::SERVER_ENCODE_ERR,
            TarsError::NoEndpoint(_) => protocol::ADAPTER_NULL,
            TarsError::InvalidEndpoint(_) | TarsError::Io(_) | TarsError::Invalid(_) => {
                protocol::SERVER_UNKNOWN_ERR
            }
        }
    }

    /// The description to send as `sResultDesc` when a servant fails with this error.
    pub fn desc(&self) -> String {
        match self {
            TarsError::Ret { desc, .. } => desc.clone(),
            other => other.to_string(),
        }
    }
}

impl From<std::io::Error> for TarsError {
    fn from(e: std::io::Error) -> Self {
        TarsError::Io(e.to_string())
    }
}
