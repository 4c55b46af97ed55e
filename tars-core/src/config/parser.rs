//! The reader of the TARS config text, with TC_Config's rules:
//!
//! - each line is trimmed of spaces, tabs, `\r` and `\n`; empty lines and lines starting with
//!   `#` are skipped (there are no trailing comments: `k=v # x` has the value `v # x`);
//! - a line starting with `<` is a tag up to its first `>` (the rest of the line is ignored):
//!   `</name>` closes the open domain, which must be `name`; `<name>` opens the sub-domain
//!   `name`, or re-opens it when it exists (the two are merged);
//! - any other line is a parameter: split at the first `=` not preceded by `\`, both sides
//!   trimmed and unescaped (`\\ \r \n \t \=`; any other `\` is an error); a line without such
//!   an `=` is a bare key with an empty value. A key given again replaces the value and
//!   moves to the end of the key order;
//! - domain names are trimmed, not unescaped.

use std::sync::Arc;

use super::domain::{Domain, Origin};
use super::error::ConfigError;

/// How deep domains may nest: the tree is walked recursively, so its depth is bounded.
pub const MAX_DEPTH: usize = 64;

const TRIM: &[char] = &[' ', '\t', '\r', '\n'];

fn trim_bytes(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if matches!(first, b' ' | b'\t' | b'\r' | b'\n') {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if matches!(last, b' ' | b'\t' | b'\r' | b'\n') {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Resolves the escapes of a key or value: `\\`, `\r`, `\n`, `\t`, `\=`.
pub(crate) fn unescape(s: &str) -> Result<String, String> {
    if !s.contains('\\') {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('\\') => '\\',
            Some('r') => '\r',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('=') => '=',
            Some(other) => {
                return Err(format!(
                    "unknown escape `\\{other}` in `{s}` (the escapes are \\\\ \\r \\n \\t \\=)"
                ))
            }
            None => return Err(format!("`{s}` ends with a lone `\\`")),
        });
    }
    Ok(out)
}

/// The byte index of the `=` that separates key and value: the first one not preceded by `\`
/// (TC_Config looks only at the previous byte, so `a\\=b` is a bare key too).
fn separator(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'=' && (i == 0 || b[i - 1] != b'\\'))
}

struct Parser<'a> {
    file: Arc<str>,
    root: &'a mut Domain,
    /// The open domains: (index in the parent, line opened).
    stack: Vec<(usize, usize)>,
}

impl Parser<'_> {
    fn err(&self, line: usize, reason: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            file: self.file.to_string(),
            line,
            reason: reason.into(),
        }
    }

    fn current(&mut self) -> &mut Domain {
        let mut d = &mut *self.root;
        for &(i, _) in &self.stack {
            // The stack only holds indices of domains that exist (none is removed while
            // parsing), so this always descends.
            d = d.sub_at_or_self(i);
        }
        d
    }

    fn line(&mut self, n: usize, raw: &[u8]) -> Result<(), ConfigError> {
        let line = trim_bytes(raw);
        if line.is_empty() || line[0] == b'#' {
            return Ok(());
        }
        let line = std::str::from_utf8(line)
            .map_err(|e| self.err(n, format!("not UTF-8 (byte {})", e.valid_up_to() + 1)))?;
        if line.starts_with('<') {
            self.tag(n, line)
        } else {
            self.param(n, line)
        }
    }

    fn tag(&mut self, n: usize, line: &str) -> Result<(), ConfigError> {
        let Some(end) = line.find('>') else {
            return Err(self.err(n, format!("`{line}`: a domain tag without `>`")));
        };
        let rest = line[end + 1..].trim_matches(TRIM);
        if !rest.is_empty() {
            tracing::warn!(file = %self.file, line = n, ignored = rest, "text after a config domain tag is ignored");
        }
        if let Some(name) = line[1..end].strip_prefix('/') {
            let name = name.trim_matches(TRIM);
            let Some(&(_, opened)) = self.stack.last() else {
                return Err(self.err(n, format!("`</{name}>` closes no open domain")));
            };
            let open = self.current().name();
            if open != name {
                let reason =
                    format!("`</{name}>` does not close `<{open}>` (opened at line {opened})");
                return Err(self.err(n, reason));
            }
            self.stack.pop();
        } else {
            if self.stack.len() >= MAX_DEPTH {
                return Err(self.err(n, format!("domains nested deeper than {MAX_DEPTH}")));
            }
            let name = line[1..end].trim_matches(TRIM);
            let i = self.current().sub_index_or_add(name);
            self.stack.push((i, n));
        }
        Ok(())
    }

    fn param(&mut self, n: usize, line: &str) -> Result<(), ConfigError> {
        let (key, value) = match separator(line) {
            Some(pos) => (&line[..pos], &line[pos + 1..]),
            None => (line, ""),
        };
        let key = unescape(key.trim_matches(TRIM)).map_err(|r| self.err(n, r))?;
        let value = unescape(value.trim_matches(TRIM)).map_err(|r| self.err(n, r))?;
        let origin = Origin {
            file: self.file.clone(),
            line: n,
        };
        let d = self.current();
        d.push_line(line.to_owned());
        d.set_moving(key, value, Some(origin));
        Ok(())
    }
}

/// Parses `bytes` (the text of `file`, used in error messages) into a root domain.
pub(crate) fn parse(bytes: &[u8], file: &str) -> Result<Domain, ConfigError> {
    let mut root = Domain::new("");
    let mut p = Parser {
        file: file.into(),
        root: &mut root,
        stack: Vec::new(),
    };
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        p.line(i + 1, raw)?;
    }
    if let Some(&(_, opened)) = p.stack.last() {
        // The number of the last line (a final newline ends it, it does not start one).
        let last = bytes.split(|&b| b == b'\n').count() - usize::from(bytes.ends_with(b"\n"));
        let name = p.current().name().to_owned();
        let reason = format!("`<{name}>` is not closed by the end of the file (line {last})");
        return Err(p.err(opened, reason));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_rules() {
        assert_eq!(unescape(r"a\\b\r\n\t\=c").unwrap(), "a\\b\r\n\t=c");
        assert_eq!(unescape("plain <x> = y").unwrap(), "plain <x> = y");
        assert!(unescape(r"C:\dir")
            .unwrap_err()
            .contains(r"unknown escape `\d`"));
        assert!(unescape(r"end\").unwrap_err().contains("lone"));
        assert!(unescape("\\é").is_err());
    }

    #[test]
    fn separator_skips_escaped_equals() {
        assert_eq!(separator("a=b"), Some(1));
        assert_eq!(separator(r"a\=b=c"), Some(4));
        assert_eq!(separator(r"a\=b"), None);
        assert_eq!(separator("=v"), Some(0));
        assert_eq!(separator(r"a\\=b"), None);
        assert_eq!(separator("bare"), None);
    }

    #[test]
    fn trim_bytes_trims_tc_whitespace_only() {
        assert_eq!(trim_bytes(b" \t x y \r\n"), b"x y");
        assert_eq!(trim_bytes(b"\x0bx\x0c"), b"\x0bx\x0c");
        assert_eq!(trim_bytes(b"  "), b"");
    }
}
