//! `AdminObj` (interface `tars.AdminF`) and the built-in `tars.*` commands.

use super::commands::{CommandHandler, Commands};
use super::framework::tars::AdminF;
use super::logging::Logging;
use super::remote_config::RemoteConfig;
use super::report::{Notifier, VERSION};
use super::settings::Settings;
use crate::server::Server;
use crate::{Current, TarsResult};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// A `tars.loadconfig FILE` hook: with a config center (`config` set), it runs once `FILE` was
/// fetched into `basepath` (or the local file kept), to reload it; without one, it loads
/// `FILE` itself. Its answer is the command's output (after the fetch message), also reported
/// to tarsnotify.
pub type LoadConfigHook = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// What AdminObj and the built-in commands see of the running application.
pub(crate) struct AdminState {
    pub(crate) settings: Settings,
    pub(crate) commands: Arc<Commands>,
    pub(crate) logging: Mutex<Option<Logging>>,
    pub(crate) notifier: Option<Arc<Notifier>>,
    pub(crate) shutdown: CancellationToken,
    /// The user adapters' server once bound (taken out at shutdown).
    pub(crate) server: Mutex<Option<Server>>,
    /// The admin adapter's server.
    pub(crate) admin: Mutex<Option<Server>>,
    pub(crate) load_config: Option<LoadConfigHook>,
    pub(crate) remote_config: Arc<RemoteConfig>,
}

/// The AdminObj servant.
pub(crate) struct AdminObj(pub(crate) Arc<AdminState>);

impl AdminF for AdminObj {
    async fn shutdown(&self, current: &Current) -> TarsResult<()> {
        warn!(peer = %current.peer_addr(), "shutdown requested through AdminObj");
        self.0.shutdown.cancel();
        Ok(())
    }

    async fn notify(&self, current: &Current, command: String) -> TarsResult<String> {
        info!(peer = %current.peer_addr(), %command, "AdminObj.notify");
        if let Some(n) = &self.0.notifier {
            n.report(&format!("AdminServant::notify:{command}")).await;
        }
        Ok(self.0.commands.run(&command).await)
    }

    async fn get_pid(&self, _current: &Current) -> TarsResult<i64> {
        Ok(i64::from(std::process::id()))
    }
}

fn handler(
    state: &Arc<AdminState>,
    f: impl Fn(&AdminState, &str) -> String + Send + Sync + 'static,
) -> CommandHandler {
    // A weak reference: the registry lives in the state.
    let state = Arc::downgrade(state);
    Arc::new(move |params| match state.upgrade() {
        Some(state) => Ok(f(&state, params)),
        None => Err("the application has stopped".into()),
    })
}

/// Registers the built-in commands.
pub(crate) fn add_builtins(state: &Arc<AdminState>) {
    let c = &state.commands;
    c.add_builtin("tars.help", handler(state, |s, _| s.commands.help()));
    c.add_builtin(
        "tars.setloglevel",
        handler(state, |s, params| {
            let level = params.trim();
            let logging = s.logging.lock().unwrap_or_else(|e| e.into_inner());
            let result = match logging.as_ref() {
                Some(l) => l.set_level(level),
                None => Err("no file logger installed".into()),
            };
            match result {
                Ok(()) => format!("set log level [{level}] ok"),
                Err(e) => {
                    warn!("tars.setloglevel {level}: {e}");
                    format!("set log level [{level}] error")
                }
            }
        }),
    );
    c.add_builtin("tars.viewstatus", handler(state, |s, _| view_status(s)));
    c.add_builtin("tars.connection", handler(state, |s, _| connections(s)));
    c.add_builtin(
        "tars.viewversion",
        handler(state, |_, _| format!("${VERSION}$")),
    );
    let weak = Arc::downgrade(state);
    c.add_builtin_async(
        "tars.loadconfig",
        Arc::new(move |params: String| {
            let state = weak.upgrade();
            Box::pin(async move {
                let s = state.ok_or("the application has stopped")?;
                let result = load_config(&s, params.trim()).await;
                if let Some(n) = s.notifier.clone() {
                    let message = result.clone();
                    tokio::spawn(async move { n.report(&message).await });
                }
                Ok(result)
            })
        }),
    );
}

/// `tars.loadconfig FILE`: the fetch (with a config center), then the user's hook.
async fn load_config(s: &AdminState, file: &str) -> String {
    let hook = |prefix: Option<String>| {
        let out = match &s.load_config {
            Some(hook) => hook(file).unwrap_or_else(|e| e),
            None if prefix.is_some() => String::new(),
            None => format!("[fail] no config center client: {file} not loaded"),
        };
        match prefix {
            Some(p) if out.is_empty() => p,
            Some(p) => format!("{p}\n{out}"),
            None => out,
        }
    };
    if !s.remote_config.has_config_center() {
        return hook(None);
    }
    match s.remote_config.add_config(file).await {
        Ok(loaded) => {
            info!(file, path = %loaded.path.display(), "{}", loaded.message);
            hook(Some(loaded.message))
        }
        Err(e) => {
            warn!(file, "{e}");
            e.to_string()
        }
    }
}

fn view_status(s: &AdminState) -> String {
    let st = &s.settings;
    let mut out = String::new();
    let _ = writeln!(out, "[server config]:");
    for (k, v) in [
        ("app", st.app.as_str()),
        ("server", &st.server),
        ("basepath", &st.basepath),
        ("datapath", &st.datapath),
        ("logpath", &st.logpath),
        ("local", st.local.as_deref().unwrap_or("")),
        ("node", st.node.as_deref().unwrap_or("")),
        ("notify", st.notify.as_deref().unwrap_or("")),
        ("config", st.config.as_deref().unwrap_or("")),
        ("log", st.log.as_deref().unwrap_or("")),
        ("version", VERSION),
    ] {
        let _ = writeln!(out, "{k:<20}{v}");
    }
    let level = {
        let logging = s.logging.lock().unwrap_or_else(|e| e.into_inner());
        logging.as_ref().map_or(st.log_level.clone(), |l| l.level())
    };
    let _ = writeln!(out, "{:<20}{level}", "loglevel");
    let server = s.server.lock().unwrap_or_else(|e| e.into_inner());
    for a in &st.adapters {
        let state = server
            .as_ref()
            .and_then(|srv| srv.adapter_state(&a.servant));
        let _ = writeln!(
            out,
            "[adapter:{}] servant={} endpoint={} maxconns={} queuecap={} queuetimeout={}ms \
             threads={} allow={} accepting={} connections={}",
            a.name,
            a.servant,
            a.endpoint,
            a.max_connections,
            a.queue_capacity,
            a.queue_timeout.as_millis(),
            a.threads,
            a.allow.join(";"),
            state.is_some_and(|st| st.accepting),
            state.map_or(0, |st| st.connections),
        );
    }
    out
}

fn connections(s: &AdminState) -> String {
    let mut out = String::new();
    let server = s.server.lock().unwrap_or_else(|e| e.into_inner());
    for a in &s.settings.adapters {
        let n = server
            .as_ref()
            .and_then(|srv| srv.adapter_state(&a.servant))
            .map_or(0, |st| st.connections);
        let _ = writeln!(out, "[adapter:{}] [connections:{n}]", a.name);
    }
    let admin = s.admin.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(st) = admin
        .as_ref()
        .and_then(|srv| srv.adapter_state(super::ADMIN_OBJ))
    {
        let _ = writeln!(
            out,
            "[adapter:{}] [connections:{}]",
            super::report::ADMIN_ADAPTER,
            st.connections
        );
    }
    out
}
