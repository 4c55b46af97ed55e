//! The TARS config format (TarsCpp's `TC_Config`): the file tarsnode writes for every server
//! and that `--config=FILE` names.
//!
//! ```text
//! <tars>
//!   <application>
//!     enableset=n
//!     <server>
//!       app=Test
//!       server=HelloServer
//!       <Test.HelloServer.HelloObjAdapter>
//!         endpoint=tcp -h 127.0.0.1 -p 18601 -t 60000
//!         allow
//!         servant=Test.HelloServer.HelloObj
//!       </Test.HelloServer.HelloObjAdapter>
//!     </server>
//!   </application>
//! </tars>
//! ```
//!
//! ```
//! use tars_core::config::Config;
//!
//! let text = "<tars>\n  <server>\n    app=Test\n    threads=0x10\n  </server>\n</tars>\n";
//! let cfg: Config = text.parse().unwrap();
//! assert_eq!(cfg.get("/tars/server<app>"), Some("Test"));
//! assert_eq!(cfg.get_or("/tars/server<threads>", 1u32), 16);
//! assert_eq!(cfg.get_or("/tars/server<queuecap>", 1024u32), 1024);
//! ```
//!
//! [`Config::parse_str`]/[`Config::from_file`] read (with `file:line` errors),
//! [`Config::get`]/[`Config::get_or`]/[`Config::sub_domains`] look up by path,
//! [`Config::join`] merges, [`Config::to_tars_string`] writes. The rules are in `docs/config.md`.

mod domain;
mod error;
mod lookup;
mod parser;
mod value;
mod writer;

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

pub use domain::{Domain, Origin};
pub use error::ConfigError;
pub use parser::MAX_DEPTH;
pub use value::{ByteSize, ConfigValue};

/// The largest config file [`Config::from_file`] reads.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// A parsed TARS config: a root domain (named `""`) holding the top-level domains (usually
/// just `tars`) and any parameters written outside every domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    root: Domain,
}

impl Config {
    /// An empty config.
    pub fn new() -> Self {
        Config::default()
    }

    /// Parses config text; errors name the file as `<string>`.
    pub fn parse_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse_bytes(text.as_bytes(), "<string>")
    }

    /// Parses config bytes read from `file` (the name used in error messages). Lines that
    /// are comments may be in any encoding; other lines must be UTF-8.
    pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Self, ConfigError> {
        Ok(Config {
            root: parser::parse(bytes, file)?,
        })
    }

    /// Reads and parses the file at `path` (at most [`MAX_FILE_BYTES`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |reason: String| ConfigError::Io {
            file: name.clone(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io(e.to_string()))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(io(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        Self::parse_bytes(&bytes, &name)
    }

    /// The root domain.
    pub fn root(&self) -> &Domain {
        &self.root
    }

    /// The root domain, mutably.
    pub fn root_mut(&mut self) -> &mut Domain {
        &mut self.root
    }

    /// Sets the parameter at `path` (`/tars/application/server<node>`), creating the domains
    /// on the way; an existing key keeps its position (TC_Config's `set`).
    pub fn set(&mut self, path: &str, value: impl Into<String>) -> Result<(), ConfigError> {
        let (domains, key) = lookup::param_path(path)?;
        self.root.descend_create(&domains).set(key, value);
        Ok(())
    }

    /// Removes the parameter at `path`, returning its value.
    pub fn remove(&mut self, path: &str) -> Result<Option<String>, ConfigError> {
        let (domains, key) = lookup::param_path(path)?;
        Ok(self.root.descend_mut(&domains).and_then(|d| d.remove(key)))
    }

    /// The domain at domain path `path`, created (with the domains on the way) if missing
    /// (TC_Config's `insertDomain` with `bCreate`).
    pub fn insert_domain(&mut self, path: &str) -> Result<&mut Domain, ConfigError> {
        let domains = lookup::domain_path(path)?;
        Ok(self.root.descend_create(&domains))
    }

    /// Removes the domain at `path` (not the root), returning it.
    pub fn remove_domain(&mut self, path: &str) -> Result<Option<Domain>, ConfigError> {
        let domains = lookup::domain_path(path)?;
        let Some((last, parents)) = domains.split_last() else {
            return Err(ConfigError::Path {
                path: path.to_owned(),
                reason: "the root domain cannot be removed".into(),
            });
        };
        Ok(self
            .root
            .descend_mut(parents)
            .and_then(|d| d.remove_domain(last)))
    }

    /// Joins `other` into this config, as TC_Config's `joinConfig(other, update)`; see
    /// [`Domain::join`]. tarsnode builds a server's file as
    /// `adapters_and_node.join(&template, true)`.
    pub fn join(&mut self, other: &Config, update: bool) {
        self.root.join(&other.root, update);
    }
}

impl FromStr for Config {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Config::parse_str(s)
    }
}

#[cfg(test)]
mod tests;
