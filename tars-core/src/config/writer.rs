//! The writer: TC_Config's `tostr` layout (two spaces per level, parameters in key order and
//! then sub-domains, a key with an empty value written bare), refusing whatever would not
//! read back as the same tree.

use std::fmt::Write as _;
use std::path::Path;

use super::domain::Domain;
use super::error::ConfigError;
use super::parser::MAX_DEPTH;
use super::Config;

/// Escapes a key or value: `\` `\r` `\n` `\t` `=` as the parser reads them back.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '=' => out.push_str("\\="),
            c => out.push(c),
        }
    }
    out
}

fn unwritable(what: String, reason: &str) -> ConfigError {
    ConfigError::Unwritable {
        what,
        reason: reason.to_owned(),
    }
}

/// Checks a domain name: names are written as they are (the parser does not unescape them).
fn check_name(name: &str, path: &str) -> Result<(), ConfigError> {
    let reason = if name.contains(['>', '\n', '\r']) {
        "a domain name cannot hold `>` or a line break"
    } else if name.starts_with([' ', '\t']) || name.ends_with([' ', '\t']) {
        "a domain name cannot start or end with a blank (it is trimmed)"
    } else if name.starts_with('/') {
        "a domain name cannot start with `/` (it would read as a closing tag)"
    } else {
        return Ok(());
    };
    Err(unwritable(format!("domain {path}"), reason))
}

/// The line of one parameter, or why it cannot be written.
fn param_line(key: &str, value: &str) -> Result<String, &'static str> {
    let k = escape(key);
    let v = escape(value);
    if k.is_empty() && v.is_empty() {
        return Err("an empty key with an empty value would be an empty line");
    }
    if k.starts_with(['<', '#']) {
        return Err("a key cannot start with `<` or `#`");
    }
    if k.starts_with(' ') || k.ends_with(' ') || v.starts_with(' ') || v.ends_with(' ') {
        return Err("a key or value cannot start or end with a space (it is trimmed)");
    }
    if v.is_empty() {
        return Ok(k);
    }
    if key.ends_with('\\') {
        return Err("a key ending with `\\` would escape the `=` after it");
    }
    Ok(format!("{k}={v}"))
}

fn write_params(
    out: &mut String,
    d: &Domain,
    indent: usize,
    path: &str,
) -> Result<(), ConfigError> {
    for (key, value) in d.params() {
        let line = param_line(key, value)
            .map_err(|reason| unwritable(format!("parameter {path}<{key}>"), reason))?;
        let _ = writeln!(out, "{:indent$}{line}", "", indent = indent * 2);
    }
    Ok(())
}

fn write_domain(
    out: &mut String,
    d: &Domain,
    depth: usize,
    parent: &str,
) -> Result<(), ConfigError> {
    let path = format!("{parent}/{}", d.name());
    if depth >= MAX_DEPTH {
        return Err(unwritable(
            format!("domain {path}"),
            "domains nested deeper than a config may nest",
        ));
    }
    check_name(d.name(), &path)?;
    let pad = depth * 2;
    let _ = writeln!(out, "{:pad$}<{}>", "", d.name());
    write_params(out, d, depth + 1, &path)?;
    for sub in d.domains() {
        write_domain(out, sub, depth + 1, &path)?;
    }
    let _ = writeln!(out, "{:pad$}</{}>", "", d.name());
    Ok(())
}

impl Config {
    /// The config as TARS config text, laid out as TC_Config writes it (comments are not
    /// kept). Parameters of the root come first, unindented, then the top-level domains in
    /// file order. Errors with [`ConfigError::Unwritable`] for a name or value that would
    /// not read back the same (a value starting with a space, a key starting with `<`, ...).
    pub fn to_tars_string(&self) -> Result<String, ConfigError> {
        let mut out = String::new();
        write_params(&mut out, self.root(), 0, "")?;
        for d in self.root().domains() {
            write_domain(&mut out, d, 0, "")?;
        }
        Ok(out)
    }

    /// Writes [`to_tars_string`](Config::to_tars_string) to the file at `path`.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<(), ConfigError> {
        let text = self.to_tars_string()?;
        std::fs::write(path.as_ref(), text).map_err(|e| ConfigError::Io {
            file: path.as_ref().display().to_string(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_parser_unescapes() {
        assert_eq!(escape("a\\b\r\n\t=c<d>#"), r"a\\b\r\n\t\=c<d>#");
    }

    #[test]
    fn parameter_lines() {
        assert_eq!(param_line("k", "v").unwrap(), "k=v");
        assert_eq!(param_line("allow", "").unwrap(), "allow");
        assert_eq!(param_line("", "v").unwrap(), "=v");
        assert_eq!(param_line("a=b", "c=d").unwrap(), r"a\=b=c\=d");
        assert_eq!(param_line("k", "<html> # x").unwrap(), "k=<html> # x");
        assert_eq!(param_line("bare\\", "").unwrap(), r"bare\\");
        assert!(param_line("", "").is_err());
        assert!(param_line("<k", "v").is_err());
        assert!(param_line("#k", "").is_err());
        assert!(param_line("k", " v").is_err());
        assert!(param_line("k ", "v").is_err());
        assert!(param_line("k\\", "v").is_err());
    }

    #[test]
    fn domain_names() {
        assert!(check_name("server", "/x").is_ok());
        assert!(check_name("", "/x").is_ok());
        assert!(check_name("a<b", "/x").is_ok());
        for bad in ["a>b", "a\nb", " a", "a\t", "/a"] {
            assert!(check_name(bad, "/x").is_err(), "{bad:?}");
        }
    }
}
