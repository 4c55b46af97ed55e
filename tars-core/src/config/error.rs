//! [`ConfigError`]: everything that can go wrong reading, querying or writing a config.

/// An error of the config parser, a lookup path, a typed getter or the writer.
///
/// Syntax errors carry the file (or `<string>`) and the 1-based line, and print as
/// `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Malformed input: an unclosed domain, a mismatched closing tag, a bad escape, ...
    #[error("{file}:{line}: {reason}")]
    Syntax {
        /// The file name, or `<string>` for text parsed from memory.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read (missing, unreadable, too large).
    #[error("cannot read config {file}: {reason}")]
    Io {
        /// The file name.
        file: String,
        /// Why.
        reason: String,
    },
    /// A lookup path is malformed (`/domain/sub<param>` or `/domain/sub`).
    #[error("invalid config path `{path}`: {reason}")]
    Path {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The parameter (or its domain) does not exist.
    #[error("no config parameter {path}")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// A parameter exists but its value is not of the requested type.
    #[error("{at}{path}: `{value}` is not {expected}")]
    Value {
        /// `file:line: ` where the value was read, or empty.
        at: String,
        /// The path as given.
        path: String,
        /// The value found.
        value: String,
        /// What was expected (`an integer`, `a boolean`, ...).
        expected: &'static str,
    },
    /// The tree holds a name or value the text format cannot represent.
    #[error("cannot write {what}: {reason}")]
    Unwritable {
        /// The domain path and key concerned.
        what: String,
        /// Why it cannot be written so that it reads back the same.
        reason: String,
    },
}
