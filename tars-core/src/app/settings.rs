//! What [`Application`](super::Application) reads from the server config: the
//! `/tars/application/server` domain with one sub-domain per adapter, and
//! `/tars/application/client`.

use super::AppError;
use crate::auth::AuthKey;
use crate::config::{ByteSize, Config, Domain};
use crate::endpoint::Endpoint;
use crate::tls::TlsServerOptions;
use std::time::Duration;

const SERVER: &str = "/tars/application/server";
const CLIENT: &str = "/tars/application/client";

/// How an adapter's connections speak (`protocol=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterProtocol {
    /// `tars` (the default): TARS/TUP request packets, served by a [`Servant`](crate::server::Servant).
    Tars,
    /// `not_tars`: a third-party protocol, served by a [`RawServant`](crate::server::RawServant).
    NotTars,
}

/// One adapter sub-domain of `/tars/application/server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSettings {
    /// The domain name (`Test.HelloServer.HelloObjAdapter`), the name heartbeats carry.
    pub name: String,
    /// `servant`: the servant this adapter serves (`Test.HelloServer.HelloObj`).
    pub servant: String,
    /// `endpoint`, with a `localip` host replaced by the server's `localip`.
    pub endpoint: String,
    /// `protocol`: `tars` or `not_tars`.
    pub protocol: AdapterProtocol,
    /// `maxconns` (TarsCpp's default 128).
    pub max_connections: usize,
    /// `queuecap`: requests waiting or running (TarsCpp's default 1024).
    pub queue_capacity: usize,
    /// `queuetimeout` in ms (TarsCpp's default 10000).
    pub queue_timeout: Duration,
    /// `threads`: read and reported; tokio's worker threads serve every adapter.
    pub threads: usize,
    /// `allow`: addresses or `*` patterns, split at `;` and `,`; empty allows everyone.
    pub allow: Vec<String>,
    /// `accesskey` / `secretkey`: the key of a `-e 1` endpoint (TarsCpp reads them per
    /// adapter only).
    pub auth: Option<AuthKey>,
    /// `cert`, `key`, `ca`, `verifyclient`, `ciphers` of an `ssl` endpoint, each falling back
    /// to the `/tars/application/server` domain; `None` when no `cert` is set.
    pub tls: Option<TlsServerOptions>,
}

/// The `/tars/application/client` settings used by the application's communicator.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientSettings {
    /// `locator`: the registry's QueryObj; objects named without `@` are looked up there.
    pub locator: Option<String>,
    /// `refresh-endpoint-interval` (ms, default 60000): how often such lookups are redone.
    pub refresh_endpoint_interval: Duration,
    /// `sync-invoke-timeout` (ms, default 3000): the default call timeout.
    pub invoke_timeout: Duration,
    /// `connect-timeout` (ms, default 1500).
    pub connect_timeout: Duration,
    /// `stat`: the stat object; calls are reported there (StatF).
    pub stat: Option<String>,
    /// `property`: the property object; [`Communicator::property`] values go there.
    ///
    /// [`Communicator::property`]: crate::client::Communicator::property
    pub property: Option<String>,
    /// TLS and AK/SK keys, client-wide and per object sub-domain.
    pub security: super::client_keys::ClientSecurity,
    /// `report-interval` (ms, default 60000): how often stats and properties are sent.
    pub report_interval: Duration,
    /// `max-report-size` (default 1400; 500..=1400): the largest estimated report packet.
    pub max_report_size: usize,
}

/// Everything read from a server config file.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file it came from.
    pub file: String,
    /// `app` (default `UNKNOWN`, as TarsCpp).
    pub app: String,
    /// `server` (default: the executable's name).
    pub server: String,
    /// `basepath`, `datapath`, `logpath` (default `.`).
    pub basepath: String,
    /// See `basepath`.
    pub datapath: String,
    /// See `basepath`.
    pub logpath: String,
    /// `localip`: replaces the host `localip` in adapter endpoints.
    pub local_ip: String,
    /// `nodename` (default `localip`), sent in notify reports.
    pub node_name: String,
    /// `local`: the AdminObj endpoint; no AdminObj without it.
    pub local: Option<String>,
    /// `node`: tarsnode's ServerF object; no heartbeats without it.
    pub node: Option<String>,
    /// `notify`: tarsnotify's object; no reports without it.
    pub notify: Option<String>,
    /// `log`: tarslog's object; the application's logs also go there
    /// ([`RemoteLog`](super::RemoteLog)).
    pub log: Option<String>,
    /// `config`: tarsconfig's object, where [`RemoteConfig`](super::RemoteConfig) and
    /// `tars.loadconfig` fetch files from.
    pub config: Option<String>,
    /// `logLevel` (default `DEBUG`): `NONE`, `ERROR`, `WARN`, `INFO`, `DEBUG`, `TARS`.
    pub log_level: String,
    /// `logsize` (default 50M): a log file rolls past this size.
    pub log_size: u64,
    /// `lognum` (default 10): rolled log files kept.
    pub log_num: usize,
    /// `deactivating-timeout` (ms, default 3000, as tarsnode): a graceful stop finishes within it.
    pub deactivating_timeout: Duration,
    /// `keepalive-interval` (ms, default 10000; a tars-rs key, for tests): keepAlive cadence.
    pub keepalive_interval: Duration,
    /// `keepactiving-interval` (ms, default 5000; a tars-rs key): keepActiving cadence while
    /// user initialisation runs.
    pub keepactiving_interval: Duration,
    /// `/tars/application<setdivision>` when `enableset=y`.
    pub set_division: String,
    /// The adapter sub-domains, in file order.
    pub adapters: Vec<AdapterSettings>,
    /// `/tars/application/client`.
    pub client: ClientSettings,
}

fn at(domain: &Domain, key: &str, file: &str) -> String {
    match domain.origin(key) {
        Some(o) => format!("{}:{}: ", o.file, o.line),
        None => format!("{file}: "),
    }
}

fn millis(cfg: &Config, path: &str, default: u64) -> Duration {
    Duration::from_millis(cfg.get_or(path, default))
}

fn opt(cfg: &Config, path: &str) -> Option<String> {
    cfg.get(path)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Settings {
    /// Reads the settings from `cfg` (read from `file`); errors name `file:line`.
    pub fn from_config(cfg: &Config, file: &str) -> Result<Settings, AppError> {
        let Some(server) = cfg.domain(SERVER) else {
            return Err(AppError::Invalid(format!(
                "{file}: no {SERVER} domain: not a TARS server config"
            )));
        };
        let key = |k: &str| format!("{SERVER}<{k}>");
        let exe = std::env::args()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let local_ip = cfg.get_or(&key("localip"), String::new());
        let mut settings = Settings {
            file: file.to_string(),
            app: cfg.get_or(&key("app"), "UNKNOWN".to_string()),
            server: cfg.get_or(&key("server"), exe),
            basepath: cfg.get_or(&key("basepath"), ".".to_string()),
            datapath: cfg.get_or(&key("datapath"), ".".to_string()),
            logpath: cfg.get_or(&key("logpath"), ".".to_string()),
            node_name: cfg.get_or(&key("nodename"), local_ip.clone()),
            local_ip,
            local: opt(cfg, &key("local")),
            node: opt(cfg, &key("node")),
            notify: opt(cfg, &key("notify")),
            log: opt(cfg, &key("log")),
            config: opt(cfg, &key("config")),
            log_level: cfg.get_or(&key("logLevel"), "DEBUG".to_string()),
            log_size: cfg.get_or(&key("logsize"), ByteSize(50 << 20)).0,
            log_num: cfg.get_or(&key("lognum"), 10usize),
            deactivating_timeout: millis(cfg, &key("deactivating-timeout"), 3000),
            keepalive_interval: millis(cfg, &key("keepalive-interval"), 10_000),
            keepactiving_interval: millis(cfg, &key("keepactiving-interval"), 5_000),
            set_division: if cfg.get_or("/tars/application<enableset>", false) {
                cfg.get_or("/tars/application<setdivision>", String::new())
            } else {
                String::new()
            },
            adapters: Vec::new(),
            client: ClientSettings {
                locator: opt(cfg, &format!("{CLIENT}<locator>")),
                refresh_endpoint_interval: millis(
                    cfg,
                    &format!("{CLIENT}<refresh-endpoint-interval>"),
                    60_000,
                ),
                invoke_timeout: millis(cfg, &format!("{CLIENT}<sync-invoke-timeout>"), 3000),
                connect_timeout: millis(cfg, &format!("{CLIENT}<connect-timeout>"), 1500),
                stat: opt(cfg, &format!("{CLIENT}<stat>")),
                property: opt(cfg, &format!("{CLIENT}<property>")),
                security: match cfg.domain(CLIENT) {
                    Some(d) => super::client_keys::ClientSecurity::from_domain(d, file)?,
                    None => Default::default(),
                },
                report_interval: millis(cfg, &format!("{CLIENT}<report-interval>"), 60_000),
                max_report_size: cfg.get_or(&format!("{CLIENT}<max-report-size>"), 1400usize),
            },
        };
        if let Some(local) = &settings.local {
            local.parse::<Endpoint>().map_err(|e| {
                AppError::Invalid(format!(
                    "{}{}: {e}",
                    at(server, "local", file),
                    key("local")
                ))
            })?;
        }
        for adapter in server.domains() {
            settings
                .adapters
                .push(adapter_settings(adapter, server, &settings, file)?);
        }
        Ok(settings)
    }

    /// Where the log file goes: `<logpath>/<app>/<server>/<app>.<server>.log`.
    pub fn log_file(&self) -> std::path::PathBuf {
        std::path::Path::new(&self.logpath)
            .join(&self.app)
            .join(&self.server)
            .join(format!("{}.{}.log", self.app, self.server))
    }
}

fn adapter_settings(
    d: &Domain,
    server: &Domain,
    settings: &Settings,
    file: &str,
) -> Result<AdapterSettings, AppError> {
    let name = d.name().to_string();
    let path = format!("{SERVER}/{name}");
    let bad = |key: &str, why: String| {
        AppError::Invalid(format!("{}{path}<{key}>: {why}", at(d, key, file)))
    };
    let servant = d.get("servant").map(str::trim).unwrap_or_default();
    if servant.is_empty() {
        return Err(bad(
            "servant",
            "missing: an adapter names the servant it serves".into(),
        ));
    }
    let endpoint = d.get("endpoint").map(str::trim).unwrap_or_default();
    let mut parsed: Endpoint = endpoint
        .parse()
        .map_err(|e| bad("endpoint", format!("`{endpoint}`: {e}")))?;
    if parsed.host == "localip" {
        parsed.host = settings.local_ip.clone();
    }
    let protocol = match d.get("protocol").map(str::trim).unwrap_or("tars") {
        "" | "tars" => AdapterProtocol::Tars,
        "not_tars" => AdapterProtocol::NotTars,
        other => {
            return Err(bad(
                "protocol",
                format!("`{other}`: expected `tars` or `not_tars`"),
            ))
        }
    };
    let number = |key: &str, default: u64| -> Result<u64, AppError> {
        match d.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| bad(key, format!("`{v}` is not a number"))),
        }
    };
    let allow = d
        .get("allow")
        .unwrap_or_default()
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let text = |key: &str| d.get(key).map(str::trim).unwrap_or_default().to_string();
    let auth = match (text("accesskey"), text("secretkey")) {
        (ak, sk) if ak.is_empty() && sk.is_empty() => None,
        (ak, sk) => Some(AuthKey::new(ak, sk)),
    };
    // TLS keys: the adapter's, else the server domain's.
    let tls_key = |key: &str| {
        d.get(key)
            .or_else(|| server.get(key))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let tls = match tls_key("cert") {
        None => None,
        Some(cert) => Some(TlsServerOptions {
            cert,
            key: tls_key("key")
                .ok_or_else(|| bad("key", "`cert` is set but `key` is not".into()))?,
            ca: tls_key("ca"),
            verify_client: tls_key("verifyclient").is_some_and(|v| v != "0"),
            ciphers: tls_key("ciphers"),
        }),
    };
    Ok(AdapterSettings {
        auth,
        tls,
        servant: servant.to_string(),
        endpoint: parsed.to_string(),
        protocol,
        max_connections: number("maxconns", 128)? as usize,
        queue_capacity: number("queuecap", 1024)? as usize,
        queue_timeout: Duration::from_millis(number("queuetimeout", 10_000)?),
        threads: number("threads", 1)? as usize,
        allow,
        name,
    })
}
