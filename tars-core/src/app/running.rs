//! Starting an [`Application`] and the running application: heartbeats, shutdown.

use super::admin::{self, AdminObj, AdminState};
use super::framework::tars::AdminFServant;
use super::logging::Logging;
use super::remote_log::{RemoteLog, RemoteLogConfig};
use super::report::{Node, Notifier, ADMIN_ADAPTER};
use super::settings::AdapterProtocol;
use super::{AppError, Application, Registered, ADMIN_OBJ};
use crate::endpoint::Endpoint;
use crate::server::{AdapterOptions, Server, ServerConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// A started application.
pub struct Running {
    state: Arc<AdminState>,
    remote_log: Option<RemoteLog>,
    node: Option<Arc<Node>>,
    heartbeats: tokio::task::JoinHandle<()>,
    stopped: CancellationToken,
}

fn server_config(app: &Application) -> ServerConfig {
    let s = &app.settings;
    let mut config = app.server_config.clone();
    // tarsnode kills a server that is still running after `deactivating-timeout`.
    config.shutdown_timeout = (s.deactivating_timeout * 4 / 5).max(Duration::from_millis(100));
    if !s.adapters.is_empty() {
        config.max_in_flight = s.adapters.iter().map(|a| a.queue_capacity.max(1)).sum();
        // Server-wide in tars-rs: the longest of the adapters'.
        config.queue_timeout = s
            .adapters
            .iter()
            .map(|a| a.queue_timeout)
            .max()
            .unwrap_or_default();
    }
    config
}

/// Checks that the code's servants and the config's adapters match one to one.
fn match_servants(app: &mut Application) -> Result<Vec<(usize, Registered)>, AppError> {
    let file = &app.settings.file;
    let mut by_name: HashMap<String, Registered> = HashMap::new();
    for (name, reg) in app.servants.drain(..) {
        if name == ADMIN_OBJ {
            return Err(AppError::Invalid(format!(
                "servant name `{ADMIN_OBJ}` is the framework's own"
            )));
        }
        if by_name.insert(name.clone(), reg).is_some() {
            return Err(AppError::Invalid(format!(
                "servant `{name}` is implemented twice"
            )));
        }
    }
    let mut known: Vec<&str> = by_name.keys().map(String::as_str).collect();
    known.sort_unstable();
    let known = known.join(", ");
    let mut matched = Vec::new();
    let mut missing = Vec::new();
    for (i, a) in app.settings.adapters.iter().enumerate() {
        let Some(reg) = by_name.remove(&a.servant) else {
            if app.settings.adapters[..i]
                .iter()
                .any(|b| b.servant == a.servant)
            {
                return Err(AppError::Invalid(format!(
                    "{file}: adapters of `{}` twice (one servant, one adapter)",
                    a.servant
                )));
            }
            missing.push(format!("`{}` (adapter {})", a.servant, a.name));
            continue;
        };
        let ok = matches!(
            (&reg, a.protocol),
            (Registered::Tars(_), AdapterProtocol::Tars)
                | (Registered::Raw(_), AdapterProtocol::NotTars)
        );
        if !ok {
            let (code, conf) = match a.protocol {
                AdapterProtocol::Tars => ("a raw (not_tars) servant", "protocol=tars"),
                AdapterProtocol::NotTars => ("a TARS servant", "protocol=not_tars"),
            };
            return Err(AppError::Invalid(format!(
                "{file}: adapter {} has {conf} but `{}` is {code} in the program",
                a.name, a.servant
            )));
        }
        matched.push((i, reg));
    }
    if !missing.is_empty() {
        return Err(AppError::Invalid(format!(
            "{file}: the config serves {} that the program does not implement (it implements: {known})",
            missing.join(", ")
        )));
    }
    if !by_name.is_empty() {
        let mut extra: Vec<&str> = by_name.keys().map(String::as_str).collect();
        extra.sort_unstable();
        return Err(AppError::Invalid(format!(
            "{file}: no adapter in /tars/application/server serves `{}`, which the program implements",
            extra.join("`, `")
        )));
    }
    Ok(matched)
}

pub(super) async fn start<E: std::fmt::Display>(
    mut app: Application,
    init: impl std::future::Future<Output = Result<(), E>>,
) -> Result<Running, AppError> {
    let matched = match_servants(&mut app)?;
    let mut bad_log = None;
    let remote_log = match app.settings.log.as_deref() {
        Some(obj) if app.log_to_file => {
            let config = RemoteLogConfig::from_settings(&app.settings);
            match RemoteLog::start(&app.comm, obj, config) {
                Ok(log) => Some(log),
                Err(e) => {
                    // Logged once the file logger is installed.
                    bad_log = Some(format!("log `{obj}`: {e}: no remote log"));
                    None
                }
            }
        }
        _ => None,
    };
    let logging = if app.log_to_file {
        Some(Logging::install(
            &app.settings,
            remote_log.as_ref().map(RemoteLog::layer),
        )?)
    } else {
        None
    };
    if let Some(why) = bad_log {
        warn!("{why}");
    }
    let settings = app.settings.clone();
    info!(app = %settings.app, server = %settings.server, config = %settings.file, "starting");
    let node = Node::new(&app.comm, &settings).map(Arc::new);
    let notifier = Notifier::new(&app.comm, &settings).map(Arc::new);
    let config = server_config(&app);
    let state = Arc::new(AdminState {
        settings: settings.clone(),
        commands: app.commands.clone(),
        logging: Mutex::new(logging),
        notifier: notifier.clone(),
        shutdown: CancellationToken::new(),
        server: Mutex::new(None),
        admin: Mutex::new(None),
        load_config: app.load_config.clone(),
        remote_config: app.remote_config.clone(),
    });
    admin::add_builtins(&state);

    // AdminObj first: the server can be managed even while its initialisation hangs.
    if let Some(local) = &settings.local {
        let mut admin = Server::builder().config(config.clone());
        if let Some(stat) = app.comm.server_stat_layer() {
            admin = admin.layer(stat);
        }
        let admin = admin
            .servant(
                ADMIN_OBJ,
                local.clone(),
                AdminFServant::new(AdminObj(state.clone())),
            )
            .start()
            .await?;
        *state.admin.lock().unwrap_or_else(|e| e.into_inner()) = Some(admin);
    }

    let init_done = CancellationToken::new();
    let activing = node.clone().map(|n| {
        let (every, done) = (settings.keepactiving_interval, init_done.clone());
        tokio::spawn(async move { n.activing_until(every, done).await })
    });
    let init_result = init.await;
    init_done.cancel();
    if let Some(task) = activing {
        let _ = task.await;
    }
    let fail = |state: &AdminState, e: AppError| {
        let admin = state.admin.lock().unwrap_or_else(|p| p.into_inner()).take();
        (admin, e)
    };
    if let Err(e) = init_result {
        let (admin, e) = fail(&state, AppError::Init(e.to_string()));
        if let Some(n) = &notifier {
            n.report(&format!("exit: {e}")).await;
        }
        if let Some(admin) = admin {
            admin.shutdown().await;
        }
        return Err(e);
    }

    let mut builder = Server::builder().config(config);
    // TarsCpp's servers report every answered call to tarsstat themselves.
    if let Some(stat) = app.comm.server_stat_layer() {
        builder = builder.layer(stat);
    }
    for (i, reg) in matched {
        let a = &settings.adapters[i];
        let tls = match a.tls.as_ref().map(crate::tls::ServerTls::from_options) {
            Some(Ok(tls)) => Some(tls),
            None => None,
            Some(Err(e)) => {
                let (admin, e) = fail(
                    &state,
                    AppError::Invalid(format!("{}: adapter {}: {e}", settings.file, a.name)),
                );
                if let Some(admin) = admin {
                    admin.shutdown().await;
                }
                return Err(e);
            }
        };
        builder = builder.adapter_options(
            a.servant.clone(),
            AdapterOptions {
                allow: a.allow.clone(),
                max_connections: Some(a.max_connections.max(1)),
                tls,
                auth: a.auth.clone(),
            },
        );
        builder = match reg {
            Registered::Tars(add) | Registered::Raw(add) => {
                add(builder, a.servant.clone(), a.endpoint.clone())
            }
        };
    }
    let server = match builder.start().await {
        Ok(server) => server,
        Err(e) => {
            let (admin, e) = fail(&state, AppError::Tars(e));
            if let Some(n) = &notifier {
                n.report(&format!("exit: {e}")).await;
            }
            if let Some(admin) = admin {
                admin.shutdown().await;
            }
            return Err(e);
        }
    };
    for (servant, endpoint) in server.endpoints() {
        info!(%servant, %endpoint, "adapter bound");
    }
    *state.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(server);

    if let Some(n) = &node {
        n.report_version().await;
        n.keep_alive("").await;
    }
    if let Some(n) = &notifier {
        n.report("restart").await;
    }
    let stopped = CancellationToken::new();
    let heartbeats = tokio::spawn(heartbeats(state.clone(), node.clone(), stopped.clone()));
    info!("started");
    Ok(Running {
        state,
        remote_log,
        node,
        heartbeats,
        stopped,
    })
}

/// Every `keepalive-interval`: one keepAlive per adapter whose accept loop runs, then
/// `AdminAdapter`.
async fn heartbeats(state: Arc<AdminState>, node: Option<Arc<Node>>, stopped: CancellationToken) {
    let Some(node) = node else { return };
    loop {
        tokio::select! {
            _ = stopped.cancelled() => return,
            _ = tokio::time::sleep(state.settings.keepalive_interval) => {}
        }
        let mut beats = Vec::new();
        {
            let server = state.server.lock().unwrap_or_else(|e| e.into_inner());
            for a in &state.settings.adapters {
                let alive = server
                    .as_ref()
                    .and_then(|s| s.adapter_state(&a.servant))
                    .is_some_and(|s| s.accepting);
                if alive {
                    beats.push(a.name.clone());
                } else {
                    warn!(adapter = %a.name, "adapter not accepting: no heartbeat");
                }
            }
            let admin = state.admin.lock().unwrap_or_else(|e| e.into_inner());
            if admin
                .as_ref()
                .and_then(|s| s.adapter_state(ADMIN_OBJ))
                .is_some_and(|s| s.accepting)
            {
                beats.push(ADMIN_ADAPTER.to_string());
            }
        }
        for adapter in beats {
            node.keep_alive(&adapter).await;
        }
    }
}

impl Running {
    /// The bound endpoint of the servant `name` (the real port).
    pub fn endpoint(&self, name: &str) -> Option<Endpoint> {
        let lock = self.state.server.lock().unwrap_or_else(|e| e.into_inner());
        lock.as_ref().and_then(|s| s.endpoint(name).cloned())
    }

    /// The bound AdminObj endpoint, if `local` is set.
    pub fn admin_endpoint(&self) -> Option<Endpoint> {
        let lock = self.state.admin.lock().unwrap_or_else(|e| e.into_inner());
        lock.as_ref().and_then(|s| s.endpoint(ADMIN_OBJ).cloned())
    }

    /// The config center client, as [`Application::remote_config`].
    pub fn remote_config(&self) -> Arc<super::RemoteConfig> {
        self.state.remote_config.clone()
    }

    /// The remote log (with `log` set and the file logger installed).
    pub fn remote_log(&self) -> Option<&RemoteLog> {
        self.remote_log.as_ref()
    }

    /// Asks the application to stop, as `AdminObj.shutdown` does.
    pub fn request_shutdown(&self) {
        self.state.shutdown.cancel();
    }

    /// Waits for `AdminObj.shutdown`, [`request_shutdown`](Self::request_shutdown), SIGTERM
    /// or ctrl-c, then stops: reports `stop`, stops the heartbeats, shuts the adapters down
    /// gracefully (in-flight calls are answered), then AdminObj, and flushes the log.
    pub async fn wait(self) -> Result<(), AppError> {
        tokio::select! {
            _ = self.state.shutdown.cancelled() => info!("stopping: AdminObj.shutdown"),
            r = crate::server::shutdown_signal() => match r {
                Ok(()) => info!("stopping: signal"),
                Err(e) => {
                    warn!("cannot wait for signals ({e}); waiting for AdminObj.shutdown");
                    self.state.shutdown.cancelled().await;
                }
            },
        }
        self.stop().await;
        Ok(())
    }

    async fn stop(self) {
        self.stopped.cancel();
        let _ = self.heartbeats.await;
        drop(self.node);
        if let Some(n) = &self.state.notifier {
            let _ = tokio::time::timeout(Duration::from_secs(1), n.report("stop")).await;
        }
        let server = self
            .state
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(server) = server {
            server.shutdown().await;
        }
        let admin = self
            .state
            .admin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(admin) = admin {
            admin.shutdown().await;
        }
        info!("stopped");
        if let Some(log) = &self.remote_log {
            log.flush(Duration::from_secs(1)).await;
        }
        // Flushes the file log.
        drop(
            self.state
                .logging
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
    }
}
