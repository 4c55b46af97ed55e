//! Call statistics and properties reported like TarsCpp's `StatReport`: the communicator's
//! [`CallLayer`] aggregates every call per `StatMicMsgHead` (caller, callee, function, IPs,
//! port) and, each report interval, sends StatF `reportMicMsg(msg, true)`, the served calls
//! of its [`ServerStatLayer`]s as `reportMicMsg(msg, false)`, and PropertyF `reportPropMsg`,
//! one-way, split into packets of at most `max_report_size` estimated bytes.

use super::layer::{CallInfo, CallLayer, CallOutcome};
use super::property::{Property, PropertyData};
use super::Proxy;
use super::{ClientConfig, Communicator};
use crate::error::TarsError;
use crate::framework::tars::{
    PropertyFProxy, StatFProxy, StatMicMsgHead, StatPropInfo, StatPropMsgBody, StatPropMsgHead,
};
use crate::server::ServerStatLayer;
use crate::stat::{limit, set_parts, split, StatResult, StatTable, MAX_IP_LEN, MAX_NAME_LEN};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PROPERTY_ENTRY_OVERHEAD: usize = 50;
/// TarsCpp's report timeout (ms).
const REPORT_TIMEOUT: Duration = Duration::from_millis(5000);

type PropMap = BTreeMap<StatPropMsgHead, StatPropMsgBody>;

/// `App.Server` of `App.Server.Obj` (TarsCpp's `getSlaveName`).
fn slave_name(object: &str) -> &str {
    let mut dots = object.match_indices('.').map(|(i, _)| i);
    match (dots.next(), dots.next()) {
        (Some(_), Some(second)) => &object[..second],
        _ => object,
    }
}

/// TarsCpp counts a property entry as its overhead plus its number of policies.
fn prop_cost(_: &StatPropMsgHead, b: &StatPropMsgBody) -> usize {
    PROPERTY_ENTRY_OVERHEAD + b.v_info.len()
}

/// The report state of one communicator (its [`CallLayer`] and its properties).
pub(crate) struct Reports {
    me: Weak<Reports>,
    config: ClientConfig,
    shutdown: CancellationToken,
    started: AtomicBool,
    /// `module@version` (with the caller's set: `module.setnameareaid@version`).
    master_name: String,
    /// The caller's own set, for property heads.
    set: Option<[String; 3]>,
    /// Calls made by this communicator's proxies (`bFromClient` true).
    stat: StatTable,
    /// Calls served by servers reporting through this communicator (`bFromClient` false).
    served: Arc<StatTable>,
    properties: Mutex<BTreeMap<String, Arc<Mutex<PropertyData>>>>,
    sender: OnceLock<Sender>,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports")
            .field("master_name", &self.master_name)
            .finish()
    }
}

impl Reports {
    /// The reports of a communicator with `config`, or `None` when it names neither a stat
    /// nor a property object.
    pub(crate) fn new(config: &ClientConfig, shutdown: CancellationToken) -> Option<Arc<Reports>> {
        if config.stat.is_none() && config.property.is_none() {
            return None;
        }
        let set = set_parts(config.set_division.as_deref());
        let module = &config.module_name;
        let master = match &set {
            Some([n, a, i]) => format!("{module}.{n}{a}{i}@{}", config.tars_version),
            None => format!("{module}@{}", config.tars_version),
        };
        Some(Arc::new_cyclic(|me| Reports {
            me: me.clone(),
            config: config.clone(),
            shutdown,
            started: AtomicBool::new(false),
            master_name: limit(&master, MAX_NAME_LEN),
            set,
            stat: StatTable::default(),
            served: Arc::default(),
            properties: Mutex::default(),
            sender: OnceLock::new(),
        }))
    }

    /// Starts the report task on the current tokio runtime, once.
    pub(crate) fn ensure_started(&self) {
        if self.started.load(Ordering::Relaxed) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.started.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(run(
            self.me.clone(),
            self.config.report_interval,
            self.shutdown.clone(),
        ));
    }

    pub(crate) fn property(self: &Arc<Self>, name: &str) -> Property {
        let mut properties = self.properties.lock().unwrap_or_else(|e| e.into_inner());
        let data = properties.entry(name.to_string()).or_default().clone();
        Property {
            data,
            on_use: Some(self.clone()),
        }
    }

    /// The layer that reports a server's calls with these reports, as TarsCpp's servers
    /// do (`stat_from_server`): `None` without a stat object.
    pub(crate) fn server_layer(&self) -> Option<ServerStatLayer> {
        self.config.stat.as_ref()?;
        self.ensure_started();
        let me = self.me.clone();
        Some(ServerStatLayer::new(
            self.served.clone(),
            &self.config.module_name,
            self.set.clone(),
            Box::new(move || {
                if let Some(reports) = me.upgrade() {
                    reports.ensure_started();
                }
            }),
        ))
    }

    /// Every property's values, in packets (TarsCpp reports them all each interval).
    fn take_properties(&self) -> Vec<PropMap> {
        let module = &self.config.module_name;
        let module_name = match &self.set {
            Some([n, a, i]) => format!("{module}.{n}{a}{i}"),
            None => module.clone(),
        };
        let [set_name, set_area, set_id] = self.set.clone().unwrap_or_default();
        let mut map = PropMap::new();
        let properties = self.properties.lock().unwrap_or_else(|e| e.into_inner());
        for (name, data) in properties.iter() {
            let mut data = data.lock().unwrap_or_else(|e| e.into_inner());
            if data.is_empty() {
                continue;
            }
            let head = StatPropMsgHead {
                module_name: module_name.clone(),
                ip: String::new(),
                property_name: name.clone(),
                set_name: set_name.clone(),
                set_area: set_area.clone(),
                set_id: set_id.clone(),
                s_container: String::new(),
                i_property_ver: 2,
            };
            let v_info = data
                .take()
                .into_iter()
                .map(|(policy, value)| StatPropInfo { policy, value })
                .collect();
            map.insert(head, StatPropMsgBody { v_info });
        }
        drop(properties);
        split(map, self.max_report_size(), prop_cost)
    }

    /// TarsCpp keeps `max-report-size` within 500..=1400, else 1400.
    fn max_report_size(&self) -> usize {
        match self.config.max_report_size {
            n @ 500..=1400 => n,
            _ => 1400,
        }
    }
}

impl CallLayer for Reports {
    fn after(&self, call: &CallInfo<'_>, outcome: &CallOutcome<'_>) {
        // Calls that never reached an endpoint are not counted (TarsCpp counts per adapter),
        // nor one-way calls (TarsCpp drops them once sent).
        let (Some(_), Some(endpoint), false) = (&self.config.stat, outcome.endpoint, call.oneway)
        else {
            return;
        };
        self.ensure_started();
        let result = match outcome.result {
            Ok(0) => {
                StatResult::Success(i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX))
            }
            Err(TarsError::Timeout(_)) => StatResult::Timeout,
            _ => StatResult::Exception,
        };
        // The caller fills no set of the callee (our endpoints carry none), no return
        // value and no tarsVersion, as TarsCpp's AdapterProxy.
        let head = StatMicMsgHead {
            master_name: self.master_name.clone(),
            slave_name: limit(slave_name(call.object), MAX_NAME_LEN),
            interface_name: limit(call.func, MAX_NAME_LEN),
            master_ip: limit(&self.config.node_name, MAX_IP_LEN),
            slave_ip: limit(&endpoint.host, MAX_IP_LEN),
            slave_port: i32::from(endpoint.port),
            ..StatMicMsgHead::default()
        };
        self.stat.record(head, result);
    }
}

/// Where the reports go: proxies of a communicator of its own (without these reports, so
/// sending them is not counted and holds nothing of the caller's communicator).
struct Sender {
    _own: Communicator,
    stat: Option<StatFProxy>,
    property: Option<PropertyFProxy>,
}

impl Sender {
    fn new(config: &ClientConfig) -> Sender {
        let own = Communicator::with_config(ClientConfig {
            stat: None,
            property: None,
            ..config.clone()
        });
        let proxy = |obj: &Option<String>| -> Option<crate::client::ServantProxy> {
            let obj = obj.as_deref()?.trim();
            match own.servant_proxy(obj) {
                Ok(p) => Some(p.oneway().with_timeout(REPORT_TIMEOUT)),
                Err(error) => {
                    tracing::warn!(obj, %error, "bad stat/property object: not reported");
                    None
                }
            }
        };
        Sender {
            stat: proxy(&config.stat).map(StatFProxy::from_servant_proxy),
            property: proxy(&config.property).map(PropertyFProxy::from_servant_proxy),
            _own: own,
        }
    }
}

impl Reports {
    /// Sends the interval's stat packets and property packets, one-way, and starts a new
    /// interval.
    pub(crate) async fn send(&self) {
        let sender = self.sender.get_or_init(|| Sender::new(&self.config));
        let max = self.max_report_size();
        // TarsCpp's order: the callers' table, then the servers'.
        let stats = [(self.stat.take(max), true), (self.served.take(max), false)];
        let props = self.take_properties();
        if let Some(stat) = &sender.stat {
            for (packets, from_client) in stats {
                for packet in packets {
                    tracing::debug!(entries = packet.len(), from_client, "stat report");
                    if let Err(error) = stat.report_mic_msg(&packet, from_client).await {
                        tracing::warn!(%error, "stat report not sent");
                    }
                }
            }
        }
        if let Some(property) = &sender.property {
            for packet in props {
                tracing::debug!(entries = packet.len(), "property report");
                if let Err(error) = property.report_prop_msg(&packet).await {
                    tracing::warn!(%error, "property report not sent");
                }
            }
        }
    }
}

/// The report task: [`Reports::send`] every interval; ends with the communicator.
async fn run(reports: Weak<Reports>, interval: Duration, shutdown: CancellationToken) {
    let interval = interval.max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let Some(r) = reports.upgrade() else { break };
        r.send().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slave_names() {
        assert_eq!(super::slave_name("App.Server.Obj"), "App.Server");
        assert_eq!(super::slave_name("Obj"), "Obj");
    }
}
