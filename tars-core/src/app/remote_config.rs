//! Config files from the config center (`tars.tarsconfig.ConfigObj`, interface `Config`), the
//! way TarsCpp's `RemoteConfig` fetches them: the file is loaded (`loadConfig`, or
//! `loadConfigByInfo` when a set is enabled; two tries), written into `basepath`, and the file
//! it replaces kept as `FILE.1.bak` .. `FILE.5.bak` (the newest first) when the content
//! changed. When the config center is unreachable, errs or answers nothing, an existing local
//! file is used.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tars_core::app::RemoteConfig;
//! use tars_core::client::Communicator;
//! let comm = Communicator::new();
//! let obj = "tars.tarsconfig.ConfigObj@tcp -h 127.0.0.1 -p 18890";
//! let rc = RemoteConfig::new(&comm, Some(obj), "Test", "HelloServer", "/usr/local/app/bin", "");
//! let loaded = rc.add_config("Test.HelloServer.conf").await?; // `[succ] get remote config:..`
//! let conf = tars_core::config::Config::from_file(&loaded.path)?;
//! # Ok(()) }
//! ```

use super::framework::tars::{ConfigInfo, ConfigProxy};
use super::settings::Settings;
use crate::client::{Communicator, Proxy};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{error, warn};

/// How many older versions of a file are kept (TarsCpp's `maxBakNum`).
pub const MAX_BACKUPS: usize = 5;

/// The timeout of one load call.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(3);

/// A config file made available by [`RemoteConfig::add_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    /// The file in `basepath`.
    pub path: PathBuf,
    /// True when the content came from the config center; false when the local file was kept
    /// because the config center gave nothing.
    pub from_remote: bool,
    /// TarsCpp's message (`[succ] get remote config:FILE`, or the `[fail] ... use the local
    /// config` warning), which `tars.loadconfig` answers and reports to tarsnotify.
    pub message: String,
}

/// Why a config file is not available: the config center gave nothing and there is no local
/// file, or the file could not be written. Displays TarsCpp's message
/// (`[fail] get remote config 'FILE' error:WHY`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[fail] get remote config '{file}' error:{why}")]
pub struct ConfigFetchError {
    /// The file name asked for.
    pub file: String,
    /// What went wrong.
    pub why: String,
}

/// The config center client of a server: fetches files into its `basepath`.
pub struct RemoteConfig {
    proxy: Option<ConfigProxy>,
    app: String,
    server: String,
    basepath: PathBuf,
    set_division: String,
    /// One fetch at a time (the backups are renamed in place).
    lock: tokio::sync::Mutex<()>,
}

impl RemoteConfig {
    /// The client of the config center `obj` (`tars.tarsconfig.ConfigObj@tcp -h H -p P`, or a
    /// name the communicator's locator finds) for the server `app.server`, writing into
    /// `basepath`; `set_division` non-empty loads by set. Without `obj` only local files are
    /// found.
    pub fn new(
        comm: &Communicator,
        obj: Option<&str>,
        app: &str,
        server: &str,
        basepath: impl Into<PathBuf>,
        set_division: &str,
    ) -> RemoteConfig {
        let proxy = obj
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .and_then(|obj| {
                if !obj.contains('@') && comm.resolver().is_none() {
                    warn!(
                        obj,
                        "config center has no endpoint and no locator is configured: not used"
                    );
                    return None;
                }
                match comm.string_to_proxy::<ConfigProxy>(obj) {
                    Ok(p) => Some(p.with_timeout(LOAD_TIMEOUT)),
                    Err(e) => {
                        warn!(obj, error = %e, "bad config center object: not used");
                        None
                    }
                }
            });
        RemoteConfig {
            proxy,
            app: app.to_string(),
            server: server.to_string(),
            basepath: basepath.into(),
            set_division: set_division.to_string(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The client of the `config` object of `settings` (`/tars/application/server<config>`),
    /// writing into its `basepath`.
    pub fn from_settings(comm: &Communicator, settings: &Settings) -> RemoteConfig {
        Self::new(
            comm,
            settings.config.as_deref(),
            &settings.app,
            &settings.server,
            &settings.basepath,
            &settings.set_division,
        )
    }

    /// Whether a config center is configured.
    pub fn has_config_center(&self) -> bool {
        self.proxy.is_some()
    }

    /// The directory files are written into.
    pub fn basepath(&self) -> &Path {
        &self.basepath
    }

    /// Fetches the server's file `file` (a plain file name) into `basepath`, rotating the
    /// backups when the content changed; keeps the local file when the config center gives
    /// nothing.
    pub async fn add_config(&self, file: &str) -> Result<LoadedConfig, ConfigFetchError> {
        self.add(file, false).await
    }

    /// As [`add_config`](Self::add_config) for a file of the whole application (TarsCpp's
    /// `addAppConfig`: no server name is sent).
    pub async fn add_app_config(&self, file: &str) -> Result<LoadedConfig, ConfigFetchError> {
        self.add(file, true).await
    }

    async fn add(&self, file: &str, app_only: bool) -> Result<LoadedConfig, ConfigFetchError> {
        let fail = |why: String| ConfigFetchError {
            file: file.to_string(),
            why,
        };
        check_name(file).map_err(fail)?;
        let _one = self.lock.lock().await;
        let path = self.basepath.join(file);
        let remote = match &self.proxy {
            Some(proxy) => self.load(proxy, file, app_only).await,
            None => Err("no config center configured".to_string()),
        };
        let fetched = match remote {
            Ok(content) => {
                let target = path.clone();
                tokio::task::spawn_blocking(move || install(&target, &content))
                    .await
                    .unwrap_or_else(|e| Err(format!("writing the file failed: {e}")))
            }
            Err(why) => Err(why),
        };
        match fetched {
            Ok(()) => Ok(LoadedConfig {
                path,
                from_remote: true,
                message: format!("[succ] get remote config:{file}"),
            }),
            Err(why) if path.is_file() => {
                warn!(file, %why, "config center gave nothing: the local file is used");
                Ok(LoadedConfig {
                    // TarsCpp's words exactly (no space before `fail`).
                    message: format!(
                        "[fail] get remote config:{file}fail,use the local config: {}",
                        path.display()
                    ),
                    path,
                    from_remote: false,
                })
            }
            Err(why) => Err(fail(format!("{why}; no local file {}", path.display()))),
        }
    }

    /// The content from the config center (two tries), or why there is none.
    async fn load(
        &self,
        proxy: &ConfigProxy,
        file: &str,
        app_only: bool,
    ) -> Result<String, String> {
        let server = if app_only { "" } else { self.server.as_str() };
        let mut last = String::new();
        for _ in 0..2 {
            let answer = if self.set_division.is_empty() {
                proxy.load_config(&self.app, server, file).await
            } else {
                let info = ConfigInfo {
                    appname: self.app.clone(),
                    servername: server.to_string(),
                    filename: file.to_string(),
                    b_app_only: app_only,
                    host: String::new(),
                    setdivision: self.set_division.clone(),
                };
                proxy.load_config_by_info(&info).await
            };
            match answer {
                Ok((0, content)) if !content.is_empty() => return Ok(content),
                Ok((0, _)) => return Err("the config center answered an empty file".into()),
                Ok((ret, _)) => return Err(format!("the config center answered {ret}")),
                Err(e) => {
                    error!(file, error = %e, "loading from the config center failed");
                    last = format!("the config center is unreachable: {e}");
                }
            }
        }
        Err(last)
    }
}

/// Only plain file names: the config center names files, never paths out of `basepath`.
fn check_name(file: &str) -> Result<(), String> {
    let plain = !file.is_empty()
        && file != "."
        && file != ".."
        && !file.contains(['/', '\\', '\0'])
        && file.trim() == file;
    if plain {
        Ok(())
    } else {
        Err(format!("`{file}` is not a plain file name"))
    }
}

/// `FILE.N.bak`, TarsCpp's name of the N-th backup.
pub fn backup_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}.bak"));
    PathBuf::from(name)
}

/// Writes `content` next to `path`, then, if it differs from the current file, shifts the
/// backups (`.4.bak` to `.5.bak`, .., the file to `.1.bak`), and moves it into place.
fn install(path: &Path, content: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(format!(".{stamp}"));
    let fresh = PathBuf::from(fresh);
    let result = std::fs::write(&fresh, content)
        .map_err(|e| format!("[fail] copy stream to disk error: {e}"))
        .and_then(|()| replace(path, &fresh, content));
    if result.is_err() {
        let _ = std::fs::remove_file(&fresh);
    }
    result
}

/// Rotates the backups if `content` is new, then moves `fresh` to `path`.
fn replace(path: &Path, fresh: &Path, content: &str) -> Result<(), String> {
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            format!(
                "rename file error:{}->{}: {e}",
                from.display(),
                to.display()
            )
        })
    };
    let changed = std::fs::read(path).map_or(true, |old| old != content.as_bytes());
    if changed {
        for n in (1..MAX_BACKUPS).rev() {
            let bak = backup_path(path, n);
            if bak.exists() {
                rename(&bak, &backup_path(path, n + 1))?;
            }
        }
        if path.exists() {
            rename(path, &backup_path(path, 1))?;
        }
    }
    rename(fresh, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tars-rc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rotates_at_most_five_backups_and_only_on_change() {
        let d = dir("rotate");
        let f = d.join("a.conf");
        for i in 0..8 {
            install(&f, &format!("v{i}")).unwrap();
        }
        install(&f, "v7").unwrap(); // unchanged: no rotation
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "v7");
        for n in 1..=5 {
            let bak = std::fs::read_to_string(backup_path(&f, n)).unwrap();
            assert_eq!(bak, format!("v{}", 7 - n));
        }
        assert!(!backup_path(&f, 6).exists());
        let names = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(names, 6, "the file and five backups, no temporary files");
        assert_eq!(
            backup_path(&f, 1).file_name().unwrap(),
            std::ffi::OsStr::new("a.conf.1.bak")
        );
    }

    #[test]
    fn only_plain_names() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", " a"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("Test.HelloServer.conf").is_ok());
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let d = dir("nowrite");
        let f = d.join("x.conf");
        std::fs::write(&f, "old").unwrap();
        std::fs::write(backup_path(&f, 4), "4").unwrap();
        // `.4.bak` cannot become `.5.bak`: a directory with a file is in the way.
        std::fs::create_dir_all(backup_path(&f, 5).join("in-the-way")).unwrap();
        let e = install(&f, "new").unwrap_err();
        assert!(e.contains("rename file error"), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "old");
        let left = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(left, 3, "the file, .4.bak and .5.bak: no temporary file");
    }

    #[tokio::test]
    async fn without_a_config_center_the_local_file_or_a_clear_error() {
        let d = dir("local");
        let comm = Communicator::new();
        let rc = RemoteConfig::new(&comm, None, "Test", "HelloServer", &d, "");
        let e = rc.add_config("none.conf").await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("[fail] get remote config 'none.conf' error:"),
            "{e}"
        );
        assert!(e.why.contains("no local file"), "{e}");
        std::fs::write(d.join("here.conf"), "x").unwrap();
        let ok = rc.add_config("here.conf").await.unwrap();
        assert!(!ok.from_remote);
        assert!(ok
            .message
            .starts_with("[fail] get remote config:here.conffail,use the local config: "));
        let bad = rc.add_config("../x").await.unwrap_err();
        assert!(bad.why.contains("not a plain file name"), "{bad}");
    }
}
