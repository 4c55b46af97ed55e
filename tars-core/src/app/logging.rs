//! Logs where TARS puts them: `<logpath>/<app>/<server>/<app>.<server>.log`, rolled by size
//! (`logsize`, keeping `lognum` files) and by day, written off the calling thread, with the
//! level from `logLevel` and changed live by `tars.setloglevel`; with `log` set, also to
//! tarslog ([`RemoteLog`](super::RemoteLog)).

use super::remote_log::RemoteLogLayer;
use super::settings::Settings;
use super::AppError;
use std::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// The installed file logger: changes its level; flushes when dropped.
pub struct Logging {
    reload: reload::Handle<EnvFilter, Registry>,
    level: Mutex<String>,
    _guard: tracing_appender::non_blocking::WorkerGuard,
}

/// The `tracing` filter of a TARS log level (`NONE`, `ERROR`, `WARN`, `INFO`, `DEBUG`,
/// `TARS`, any case), or `None` for another word.
pub fn level_filter(level: &str) -> Option<EnvFilter> {
    let directive = match level.trim().to_ascii_uppercase().as_str() {
        "NONE" | "OFF" => "off",
        "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TARS" | "TRACE" => "trace",
        _ => return None,
    };
    Some(EnvFilter::new(directive))
}

impl Logging {
    /// Installs the global `tracing` subscriber writing to [`Settings::log_file`] (and to
    /// `remote`, with the same level). Fails if the directory cannot be made, the file cannot
    /// be opened, or a subscriber is set.
    pub fn install(
        settings: &Settings,
        remote: Option<RemoteLogLayer>,
    ) -> Result<Logging, AppError> {
        let path = settings.log_file();
        let io =
            |e: std::io::Error| AppError::Invalid(format!("cannot log to {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let condition = rolling_file::RollingConditionBasic::new()
            .daily()
            .max_size(settings.log_size.max(1));
        let file =
            rolling_file::BasicRollingFileAppender::new(&path, condition, settings.log_num.max(1))
                .map_err(io)?;
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(file);
        let level = settings.log_level.trim().to_ascii_uppercase();
        let filter = level_filter(&level).unwrap_or_else(|| EnvFilter::new("debug"));
        let (filter, reload) = reload::Layer::new(filter);
        tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false),
            )
            .with(remote)
            .try_init()
            .map_err(|e| AppError::Invalid(format!("cannot install the logger: {e}")))?;
        Ok(Logging {
            reload,
            level: Mutex::new(level),
            _guard: guard,
        })
    }

    /// Sets the level (a TARS level name); an unknown name changes nothing.
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let filter = level_filter(level).ok_or_else(|| format!("unknown log level `{level}`"))?;
        self.reload.reload(filter).map_err(|e| e.to_string())?;
        *self.level.lock().unwrap_or_else(|e| e.into_inner()) = level.trim().to_ascii_uppercase();
        Ok(())
    }

    /// The current level name.
    pub fn level(&self) -> String {
        self.level.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
