//! Lookup paths (`/tars/application/server<app>` for a parameter, `/tars/application/server`
//! for a domain) and the getters of [`Config`] built on them.
//!
//! A path starts with `/`; the domain names are separated by `/` (empty segments are
//! skipped, so `/tars//application/` is `/tars/application`, and `/` is the root). A
//! parameter path ends with `<key>`, and nothing may follow the `>`.

use super::domain::Domain;
use super::error::ConfigError;
use super::parser::MAX_DEPTH;
use super::value::ConfigValue;
use super::Config;

fn bad(path: &str, reason: &str) -> ConfigError {
    ConfigError::Path {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn segments<'p>(path: &'p str, domains: &'p str) -> Result<Vec<&'p str>, ConfigError> {
    let v: Vec<&str> = domains.split('/').filter(|s| !s.is_empty()).collect();
    if v.len() > MAX_DEPTH {
        return Err(bad(path, "more domains than a config may nest"));
    }
    Ok(v)
}

/// Splits a domain path into its domain names.
pub(crate) fn domain_path(path: &str) -> Result<Vec<&str>, ConfigError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad(path, "a path starts with `/`"));
    };
    segments(path, rest)
}

/// Splits a parameter path into its domain names and the parameter name.
pub(crate) fn param_path(path: &str) -> Result<(Vec<&str>, &str), ConfigError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad(path, "a path starts with `/`"));
    };
    let Some(lt) = rest.find('<') else {
        return Err(bad(path, "a parameter path ends with `<name>`"));
    };
    let Some(len) = rest[lt + 1..].find('>') else {
        return Err(bad(path, "`<` without `>`"));
    };
    let gt = lt + 1 + len;
    if gt + 1 != rest.len() {
        return Err(bad(path, "text after `<name>`"));
    }
    Ok((segments(path, &rest[..lt])?, &rest[lt + 1..gt]))
}

impl Config {
    /// The value at parameter path `path` (`/tars/application/server<app>`); `None` when the
    /// domain or key is absent or the path is malformed. A bare key's value is `""`.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.param(path).ok()
    }

    /// The value at `path`, or why there is none ([`ConfigError::NotFound`],
    /// [`ConfigError::Path`]), as TC_Config's `operator[]`.
    pub fn param(&self, path: &str) -> Result<&str, ConfigError> {
        let (domains, key) = param_path(path)?;
        self.root()
            .descend(&domains)
            .and_then(|d| d.get(key))
            .ok_or_else(|| ConfigError::NotFound {
                path: path.to_owned(),
            })
    }

    /// The value at `path` read as TarsCpp reads it, or `default` when the parameter is
    /// absent or empty (as TarsCpp's `toDefault(conf.get(path))`).
    ///
    /// Numbers: `0x` hex or decimal; a value that is not a clean number is read like
    /// TarsCpp's `strto` (`12abc` is 12, `abc` is 0) with a warning. Flags: 1/0, y/n, yes/no,
    /// true/false, on/off; anything else gives `default` with a warning. Sizes:
    /// [`ByteSize`](super::ByteSize). A malformed path gives `default` with a warning.
    pub fn get_or<T: ConfigValue>(&self, path: &str, default: T) -> T {
        let value = match self.param(path) {
            Ok(v) => v,
            Err(ConfigError::NotFound { .. }) => return default,
            Err(e) => {
                tracing::warn!(error = %e, "config lookup with a malformed path");
                return default;
            }
        };
        if value.is_empty() {
            return default;
        }
        if let Some(v) = T::parse_strict(value) {
            return v;
        }
        let at = self.at(path);
        match T::parse_lenient(value) {
            Some(v) => {
                tracing::warn!(
                    "{at}{path}: `{value}` is not {}; read as TarsCpp reads it",
                    T::EXPECTED
                );
                v
            }
            None => {
                tracing::warn!(
                    "{at}{path}: `{value}` is not {}; using the default",
                    T::EXPECTED
                );
                default
            }
        }
    }

    /// The value at `path` read strictly: `Ok(None)` when absent, an error naming the file
    /// and line when it is not a well-formed `T` (an empty value is not a number either).
    pub fn get_parsed<T: ConfigValue>(&self, path: &str) -> Result<Option<T>, ConfigError> {
        let value = match self.param(path) {
            Ok(v) => v,
            Err(ConfigError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        T::parse_strict(value)
            .map(Some)
            .ok_or_else(|| ConfigError::Value {
                at: self.at(path),
                path: path.to_owned(),
                value: value.to_owned(),
                expected: T::EXPECTED,
            })
    }

    /// `file:line: ` where the parameter at `path` was read, or empty.
    fn at(&self, path: &str) -> String {
        param_path(path)
            .ok()
            .and_then(|(domains, key)| self.root().descend(&domains)?.origin(key).cloned())
            .map(|o| format!("{}:{}: ", o.file, o.line))
            .unwrap_or_default()
    }

    /// The domain at domain path `path` (`/tars/application/server`; `/` is the root).
    pub fn domain(&self, path: &str) -> Option<&Domain> {
        self.root().descend(&domain_path(path).ok()?)
    }

    /// The domain at `path`, mutably.
    pub fn domain_mut(&mut self, path: &str) -> Option<&mut Domain> {
        let names = domain_path(path).ok()?;
        self.root_mut().descend_mut(&names)
    }

    /// Whether the domain at `path` exists (for `/`: whether the root has sub-domains, as
    /// TC_Config's `hasDomainVector`).
    pub fn has_domain(&self, path: &str) -> bool {
        match domain_path(path) {
            Ok(names) if names.is_empty() => self.root().domains().next().is_some(),
            Ok(names) => self.root().descend(&names).is_some(),
            Err(_) => false,
        }
    }

    /// The names of the sub-domains of `path` in file order (empty when `path` is absent),
    /// as TC_Config's `getDomainVector`: the adapters are `sub_domains("/tars/application/server")`.
    pub fn sub_domains(&self, path: &str) -> Vec<&str> {
        self.domain(path)
            .map(|d| d.domain_names().collect())
            .unwrap_or_default()
    }

    /// The parameter names of `path` in file order (empty when absent), as `getDomainKey`.
    pub fn keys(&self, path: &str) -> Vec<&str> {
        self.domain(path)
            .map(|d| d.keys().collect())
            .unwrap_or_default()
    }

    /// The raw parameter lines of `path` as read (empty when absent), as `getDomainLine`.
    pub fn lines(&self, path: &str) -> &[String] {
        self.domain(path).map(Domain::lines).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_paths() {
        let (d, k) = param_path("/tars/application/server<app>").unwrap();
        assert_eq!((d, k), (vec!["tars", "application", "server"], "app"));
        let (d, k) = param_path("/tars/application/client/<locator>").unwrap();
        assert_eq!((d, k), (vec!["tars", "application", "client"], "locator"));
        let (d, k) = param_path("//tars//x<>").unwrap();
        assert_eq!((d, k), (vec!["tars", "x"], ""));
        let (d, k) = param_path("/<rootkey>").unwrap();
        assert_eq!((d, k), (vec![], "rootkey"));
        let (_, k) = param_path("/a<b/c>").unwrap();
        assert_eq!(k, "b/c");
        for bad in [
            "",
            "tars<app>",
            "/tars/app",
            "/tars<app",
            "/tars<app>x",
            "/a>b<c",
        ] {
            assert!(
                matches!(param_path(bad), Err(ConfigError::Path { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn domain_paths() {
        assert_eq!(domain_path("/").unwrap(), Vec::<&str>::new());
        assert_eq!(
            domain_path("/tars/application/").unwrap(),
            ["tars", "application"]
        );
        assert!(domain_path("tars").is_err());
        assert!(domain_path("").is_err());
        assert!(domain_path(&"/a".repeat(MAX_DEPTH + 1)).is_err());
        assert_eq!(
            domain_path(&"/a".repeat(MAX_DEPTH)).unwrap().len(),
            MAX_DEPTH
        );
    }
}
