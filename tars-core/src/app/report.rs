//! What the application sends to the framework, all one-way: heartbeats to tarsnode
//! (`ServerF` at `node`) and reports to tarsnotify (`Notify` at `notify`).

use super::framework::tars::{NotifyProxy, ReportInfo, ReportType, ServerFProxy, ServerInfo};
use super::settings::Settings;
use crate::client::{Communicator, Proxy};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The version string sent with `reportVersion` and shown by `tars.viewversion`.
pub const VERSION: &str = concat!("tars-rs ", env!("CARGO_PKG_VERSION"));

/// The adapter name TarsCpp gives the admin adapter in heartbeats.
pub const ADMIN_ADAPTER: &str = "AdminAdapter";

/// A proxy for `obj`, or `None` (with a warning) when it names no endpoint and no locator is
/// configured (with one, `obj` is looked up in the registry).
fn direct<P: Proxy>(comm: &Communicator, what: &str, obj: &str) -> Option<P> {
    if !obj.contains('@') && comm.resolver().is_none() {
        warn!("{what} `{obj}` has no endpoint and no locator is configured: not used");
        return None;
    }
    match comm.string_to_proxy::<P>(obj) {
        Ok(p) => Some(p.oneway()),
        Err(e) => {
            warn!("{what} `{obj}`: {e}: not used");
            None
        }
    }
}

/// Heartbeats to tarsnode.
pub(crate) struct Node {
    proxy: ServerFProxy,
    info: ServerInfo,
}

impl Node {
    pub(crate) fn new(comm: &Communicator, settings: &Settings) -> Option<Node> {
        let proxy = direct(comm, "node", settings.node.as_deref()?)?;
        Some(Node {
            proxy,
            info: ServerInfo {
                application: settings.app.clone(),
                server_name: settings.server.clone(),
                pid: std::process::id() as i32,
                adapter: String::new(),
            },
        })
    }

    pub(crate) async fn keep_activing(&self) {
        if let Err(e) = self.proxy.keep_activing(&self.info).await {
            debug!(error = %e, "keepActiving not sent");
        }
    }

    pub(crate) async fn keep_alive(&self, adapter: &str) {
        let info = ServerInfo {
            adapter: adapter.to_string(),
            ..self.info.clone()
        };
        if let Err(e) = self.proxy.keep_alive(&info).await {
            debug!(error = %e, adapter, "keepAlive not sent");
        }
    }

    pub(crate) async fn report_version(&self) {
        let (app, server) = (&self.info.application, &self.info.server_name);
        if let Err(e) = self.proxy.report_version(app, server, VERSION).await {
            debug!(error = %e, "reportVersion not sent");
        }
    }

    /// keepActiving now and every `interval` until `done`.
    pub(crate) async fn activing_until(&self, interval: Duration, done: CancellationToken) {
        loop {
            self.keep_activing().await;
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Reports to tarsnotify.
pub(crate) struct Notifier {
    proxy: NotifyProxy,
    template: ReportInfo,
}

impl Notifier {
    pub(crate) fn new(comm: &Communicator, settings: &Settings) -> Option<Notifier> {
        let proxy = direct(comm, "notify", settings.notify.as_deref()?)?;
        Some(Notifier {
            proxy,
            template: ReportInfo {
                e_type: ReportType::Report,
                s_app: settings.app.clone(),
                s_set: settings.set_division.clone(),
                s_container: String::new(),
                s_server: settings.server.clone(),
                s_message: String::new(),
                s_thread_id: format!("{:?}", std::thread::current().id()),
                e_level: Default::default(),
                s_node_name: settings.node_name.clone(),
            },
        })
    }

    /// A framework report (`restart`, `stop`, `AdminServant::notify:<command>`).
    pub(crate) async fn report(&self, message: &str) {
        let info = ReportInfo {
            s_message: message.to_string(),
            ..self.template.clone()
        };
        if let Err(e) = self.proxy.report_notify_info(&info).await {
            debug!(error = %e, message, "notify report not sent");
        }
    }
}
