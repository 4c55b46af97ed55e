//! Running as a TARS deployment runs a server: [`Application`] reads the config file that
//! tarsnode writes (`--config=FILE`), binds every adapter it lists for the servant it names,
//! serves `AdminObj` on `local`, sends heartbeats to tarsnode and reports to tarsnotify, and
//! logs under `logpath`. `docs/deploy.md` has the whole story.
//!
//! ```no_run
//! # async fn run(servant: impl tars_core::server::Servant) -> Result<(), tars_core::app::AppError> {
//! use tars_core::app::Application;
//! let Some(app) = Application::from_args()? else {
//!     eprintln!("usage: server --config=FILE");
//!     std::process::exit(2);
//! };
//! app.servant("Test.HelloServer.HelloObj", servant)
//!     .command("hello.count", |_params| Ok("3".to_string()))
//!     .run(async { Ok::<(), String>(()) }) // user initialisation (keepActiving meanwhile)
//!     .await
//! # }
//! ```

mod admin;
pub mod client_keys;
pub mod commands;
pub mod framework;
pub mod logging;
pub mod remote_config;
pub mod remote_log;
mod report;
mod running;
pub mod settings;

pub use admin::LoadConfigHook;
pub use commands::{CommandHandler, Commands};
pub use remote_config::{ConfigFetchError, LoadedConfig, RemoteConfig};
pub use remote_log::{RemoteLog, RemoteLogConfig, RemoteLogLayer};
pub use report::{ADMIN_ADAPTER, VERSION};
pub use running::Running;
pub use settings::{AdapterProtocol, AdapterSettings, ClientSettings, Settings};

use crate::client::{ClientConfig, Communicator};
use crate::config::{Config, ConfigError};
use crate::server::{PacketParser, RawServant, Servant, ServerBuilder, ServerConfig};
use crate::TarsError;
use std::path::PathBuf;
use std::sync::Arc;

/// The servant name of the administration object.
pub const ADMIN_OBJ: &str = "AdminObj";

/// Why an application did not start or run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The command line is malformed (`--config` without a file).
    #[error("{0}")]
    Args(String),
    /// The config file cannot be read or parsed (`file:line: reason`).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config and the code do not fit together, or a value is unusable.
    #[error("{0}")]
    Invalid(String),
    /// Binding or serving failed.
    #[error("{0}")]
    Tars(#[from] TarsError),
    /// The user initialisation failed.
    #[error("initialisation failed: {0}")]
    Init(String),
}

/// Adds a non-TARS adapter to a builder.
type RawAdd = Box<dyn FnOnce(ServerBuilder, String, String) -> ServerBuilder + Send>;

enum Registered {
    Tars(Box<dyn FnOnce(ServerBuilder, String, String) -> ServerBuilder + Send>),
    Raw(RawAdd),
}

/// A TARS server run from its config file. Build with [`Application::from_args`] or
/// [`Application::from_config_file`], name the implementation of each servant, then
/// [`run`](Application::run) (or [`start`](Application::start)).
pub struct Application {
    settings: Settings,
    config: Config,
    comm: Communicator,
    servants: Vec<(String, Registered)>,
    commands: Arc<Commands>,
    load_config: Option<LoadConfigHook>,
    remote_config: Arc<RemoteConfig>,
    server_config: ServerConfig,
    log_to_file: bool,
}

/// The config file named by `--config=PATH` or `--config PATH` in `args` (the program name
/// first, as `std::env::args`), or `None` without `--config`.
pub fn config_path(args: impl IntoIterator<Item = String>) -> Result<Option<PathBuf>, AppError> {
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return match args.next() {
                Some(p) if !p.is_empty() && !p.starts_with("--") => Ok(Some(p.into())),
                _ => Err(AppError::Args(
                    "--config needs a file: --config=FILE".into(),
                )),
            };
        }
        if let Some(p) = arg.strip_prefix("--config=") {
            if p.is_empty() {
                return Err(AppError::Args(
                    "--config needs a file: --config=FILE".into(),
                ));
            }
            return Ok(Some(p.into()));
        }
    }
    Ok(None)
}

impl Application {
    /// The application of the config file named on the command line, or `None` without
    /// `--config` (then keep the code-only [`Server::builder`](crate::Server::builder) path).
    pub fn from_args() -> Result<Option<Application>, AppError> {
        match config_path(std::env::args())? {
            Some(path) => Self::from_config_file(path).map(Some),
            None => Ok(None),
        }
    }

    /// The application of the config file at `path`.
    pub fn from_config_file(path: impl Into<PathBuf>) -> Result<Application, AppError> {
        let path = path.into();
        let config = Config::from_file(&path)?;
        Self::from_config(config, &path.display().to_string())
    }

    /// The application of a parsed config (`file` names it in messages).
    pub fn from_config(config: Config, file: &str) -> Result<Application, AppError> {
        let settings = Settings::from_config(&config, file)?;
        let mut client = ClientConfig {
            invoke_timeout: settings.client.invoke_timeout,
            connect_timeout: settings.client.connect_timeout,
            locator: settings.client.locator.clone(),
            refresh_endpoint_interval: settings.client.refresh_endpoint_interval,
            set_division: (!settings.set_division.is_empty())
                .then(|| settings.set_division.clone()),
            stat: settings.client.stat.clone(),
            property: settings.client.property.clone(),
            report_interval: settings.client.report_interval,
            max_report_size: settings.client.max_report_size,
            module_name: format!("{}.{}", settings.app, settings.server),
            node_name: settings.node_name.clone(),
            // TarsCpp keeps the last lists in `<datapath>/<server>.tarsdat`; ours go in a
            // directory beside it (only with a locator and a datapath of the config).
            endpoint_cache_dir: (settings.client.locator.is_some()
                && config.get("/tars/application/server<datapath>").is_some())
            .then(|| PathBuf::from(&settings.datapath).join("endpoints")),
            ..ClientConfig::default()
        };
        settings.client.security.apply(&mut client)?;
        let comm = Communicator::with_config(client);
        let remote_config = Arc::new(RemoteConfig::from_settings(&comm, &settings));
        Ok(Application {
            remote_config,
            settings,
            config,
            comm,
            servants: Vec::new(),
            commands: Arc::new(Commands::default()),
            load_config: None,
            server_config: ServerConfig::default(),
            log_to_file: true,
        })
    }

    /// What was read from the config file.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The whole config file, for the application's own keys.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The communicator made from `/tars/application/client`, for the application's calls.
    pub fn communicator(&self) -> &Communicator {
        &self.comm
    }

    /// Serves the TARS servant `name` with `servant` on the adapter of the config that
    /// names `name` (`servant=` in an adapter domain).
    pub fn servant(mut self, name: impl Into<String>, servant: impl Servant) -> Self {
        let add = Box::new(move |b: ServerBuilder, name: String, ep: String| {
            b.servant(name, ep, servant)
        });
        self.servants.push((name.into(), Registered::Tars(add)));
        self
    }

    /// Serves a third-party protocol (`protocol=not_tars`) for the servant `name`.
    pub fn raw_servant<P: PacketParser, S: RawServant>(
        mut self,
        name: impl Into<String>,
        parser: P,
        servant: S,
    ) -> Self {
        let add: RawAdd = Box::new(move |b: ServerBuilder, name: String, ep: String| {
            b.raw_servant(name, ep, parser, servant)
        });
        self.servants.push((name.into(), Registered::Raw(add)));
        self
    }

    /// Registers the administration command `name` (sent with `AdminObj.notify`): the
    /// handler gets the text after the name and answers its output (`Err` stops the other
    /// handlers of `name`).
    pub fn command(
        self,
        name: &str,
        handler: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.commands.add(name, Arc::new(handler));
        self
    }

    /// The command registry, to register commands after start.
    pub fn commands(&self) -> Arc<Commands> {
        self.commands.clone()
    }

    /// The config center client (`config` in `/tars/application/server`), fetching into
    /// `basepath`.
    pub fn remote_config(&self) -> Arc<RemoteConfig> {
        self.remote_config.clone()
    }

    /// Fetches `file` from the config center into `basepath` (TarsCpp's `addConfig`), keeping
    /// the local file when the config center gives nothing; see [`RemoteConfig::add_config`].
    pub async fn add_config(&self, file: &str) -> Result<LoadedConfig, ConfigFetchError> {
        self.remote_config.add_config(file).await
    }

    /// What `tars.loadconfig FILE` runs after the file was fetched into `basepath` (with a
    /// config center; without one the hook loads `FILE` itself). See [`LoadConfigHook`].
    pub fn on_load_config(
        mut self,
        hook: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.load_config = Some(Arc::new(hook));
        self
    }

    /// The server-wide limits the adapters' settings are applied on (default
    /// [`ServerConfig::default`]).
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server_config = config;
        self
    }

    /// Whether to install the file logger (default true; turn it off when the process has
    /// its own `tracing` subscriber; `tars.setloglevel` then answers an error).
    pub fn log_to_file(mut self, on: bool) -> Self {
        self.log_to_file = on;
        self
    }

    /// Starts ([`start`](Self::start)) and runs until `AdminObj.shutdown`, SIGTERM or ctrl-c,
    /// then stops gracefully. `init` is the user initialisation (tarsnode sees
    /// keepActiving while it runs).
    pub async fn run<E: std::fmt::Display>(
        self,
        init: impl std::future::Future<Output = Result<(), E>>,
    ) -> Result<(), AppError> {
        self.start(init).await?.wait().await
    }

    /// Binds AdminObj, runs `init` (with keepActiving), binds every adapter of the config,
    /// reports the version, the first keepAlive and `restart`, and starts the heartbeats.
    /// Fails if a servant of the code is not in the config or the reverse, a protocol does
    /// not match, an endpoint cannot be bound or `init` fails.
    pub async fn start<E: std::fmt::Display>(
        self,
        init: impl std::future::Future<Output = Result<(), E>>,
    ) -> Result<Running, AppError> {
        running::start(self, init).await
    }
}

#[cfg(test)]
mod tests;
