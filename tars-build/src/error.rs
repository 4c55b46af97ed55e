//! Errors with their `file:line:column`.

use std::fmt;

/// A position in an IDL file: the file's number in the load order, line and column (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Index into the loaded files.
    pub file: usize,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

/// An IDL error: `file:line:column: message`, or an I/O error without a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The position, when the error is about IDL text.
    pub span: Option<Span>,
    /// The path of the file the span is in (filled in by the loader).
    pub path: Option<String>,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl Error {
    /// An error at `span`.
    pub fn at(span: Span, message: impl Into<String>) -> Self {
        Error {
            span: Some(span),
            path: None,
            message: message.into(),
        }
    }

    /// An error about no position in particular.
    pub fn plain(message: impl Into<String>) -> Self {
        Error {
            span: None,
            path: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.span) {
            (Some(p), Some(s)) => write!(f, "{p}:{}:{}: {}", s.line, s.col, self.message),
            (Some(p), None) => write!(f, "{p}: {}", self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
    }
}
