//! Call statistics and properties reported like TarsCpp's `StatReport`: the communicator's
//! [`CallLayer`] aggregates every call per `StatMicMsgHead` (caller, callee, function, IPs,
//! port) and, each report interval, sends StatF `reportMicMsg(msg, true)` and PropertyF
//! `reportPropMsg` one-way, split into packets of at most `max_report_size` estimated bytes.

use super::layer::{CallInfo, CallLayer, CallOutcome};
use super::property::{Property, PropertyData};
use super::Proxy;
use super::{ClientConfig, Communicator};
use crate::error::TarsError;
use crate::framework::tars::{
    PropertyFProxy, StatFProxy, StatMicMsgBody, StatMicMsgHead, StatPropInfo, StatPropMsgBody,
    StatPropMsgHead,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// TarsCpp's latency bucket bounds (ms): a call of `t` ms counts in the first bound above `t`.
pub const STAT_BUCKETS: [i32; 9] = [5, 10, 50, 100, 200, 500, 1000, 2000, 3000];
const MAX_NAME_LEN: usize = 127;
const MAX_IP_LEN: usize = 50;
/// TarsCpp's estimate of one stat entry's protocol overhead, and of a property entry's.
const STAT_ENTRY_OVERHEAD: usize = 100;
const PROPERTY_ENTRY_OVERHEAD: usize = 50;
/// TarsCpp's report timeout (ms).
const REPORT_TIMEOUT: Duration = Duration::from_millis(5000);

type StatMap = BTreeMap<StatMicMsgHead, StatMicMsgBody>;
type PropMap = BTreeMap<StatPropMsgHead, StatPropMsgBody>;

/// TarsCpp's `trimAndLimitStr`: `\r` and `\t` trimmed, cut to `limit` bytes.
fn limit(s: &str, limit: usize) -> String {
    let s = s.trim_matches(['\r', '\t']);
    let mut end = s.len().min(limit);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `name.area.id` split as TarsCpp accepts a set division (three parts, no `*` name/area).
fn set_parts(division: Option<&str>) -> Option<[String; 3]> {
    let parts: Vec<&str> = division?.trim().split('.').collect();
    match parts.as_slice() {
        [n, a, i] if *n != "*" && *a != "*" => Some([n.to_string(), a.to_string(), i.to_string()]),
        _ => None,
    }
}

/// `App.Server` of `App.Server.Obj` (TarsCpp's `getSlaveName`).
fn slave_name(object: &str) -> &str {
    let mut dots = object.match_indices('.').map(|(i, _)| i);
    match (dots.next(), dots.next()) {
        (Some(_), Some(second)) => &object[..second],
        _ => object,
    }
}

/// Adds one call of `t` ms to its latency bucket; the first call of a body sets every
/// bucket (TarsCpp's `getIntervCount`, failed calls counting as 0 ms).
fn add_interval(body: &mut StatMicMsgBody, t: i32) {
    if body.interval_count.is_empty() {
        body.interval_count = STAT_BUCKETS.iter().map(|&b| (b, 0)).collect();
    }
    if let Some(bound) = STAT_BUCKETS.iter().find(|&&b| t < b) {
        *body.interval_count.entry(*bound).or_insert(0) += 1;
    }
}

/// Merges one call into `body` the way TarsCpp's `AdapterProxy::merge` does.
fn add_call(body: &mut StatMicMsgBody, call: &StatMicMsgBody) {
    body.count += call.count;
    body.timeout_count += call.timeout_count;
    body.exec_count += call.exec_count;
    body.total_rsp_time += call.total_rsp_time;
    body.max_rsp_time = body.max_rsp_time.max(call.max_rsp_time);
    if body.min_rsp_time == 0 || (call.min_rsp_time != 0 && call.min_rsp_time < body.min_rsp_time) {
        body.min_rsp_time = call.min_rsp_time;
    }
    add_interval(body, call.max_rsp_time);
}

/// Splits `map` into packets the way TarsCpp's `reportMicMsg` does: each entry costs
/// `overhead + its lengths`; a packet closes before the entry that would pass `max`.
fn split<K: Ord, V>(
    map: BTreeMap<K, V>,
    max: usize,
    cost: impl Fn(&K, &V) -> usize,
) -> Vec<BTreeMap<K, V>> {
    let mut packets = Vec::new();
    let mut current = BTreeMap::new();
    let mut len = 0;
    for (k, v) in map {
        let c = cost(&k, &v);
        len += c;
        if len > max && !current.is_empty() {
            packets.push(std::mem::take(&mut current));
            len = c;
        }
        current.insert(k, v);
    }
    if !current.is_empty() {
        packets.push(current);
    }
    packets
}

fn stat_cost(h: &StatMicMsgHead, _: &StatMicMsgBody) -> usize {
    STAT_ENTRY_OVERHEAD
        + [
            &h.master_name,
            &h.slave_name,
            &h.interface_name,
            &h.slave_set_name,
            &h.slave_set_area,
            &h.slave_set_id,
        ]
        .iter()
        .map(|s| s.len())
        .sum::<usize>()
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
    stat: Mutex<StatMap>,
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
            stat: Mutex::default(),
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

    /// The stat entries of the interval, in packets; the interval starts over.
    fn take_stat(&self) -> Vec<StatMap> {
        let map = std::mem::take(&mut *self.stat.lock().unwrap_or_else(|e| e.into_inner()));
        split(map, self.max_report_size(), stat_cost)
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
        let mut body = StatMicMsgBody::default();
        match outcome.result {
            Ok(0) => {
                let t = i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX);
                body.count = 1;
                body.total_rsp_time = i64::from(t);
                body.max_rsp_time = t;
                body.min_rsp_time = t;
            }
            Err(TarsError::Timeout(_)) => body.timeout_count = 1,
            _ => body.exec_count = 1,
        }
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
        let mut stat = self.stat.lock().unwrap_or_else(|e| e.into_inner());
        match stat.get_mut(&head) {
            Some(old) => add_call(old, &body),
            None => {
                let t = body.max_rsp_time;
                add_interval(&mut body, t);
                stat.insert(head, body);
            }
        }
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
        let (stats, props) = (self.take_stat(), self.take_properties());
        if let Some(stat) = &sender.stat {
            for packet in stats {
                tracing::debug!(entries = packet.len(), "stat report");
                if let Err(error) = stat.report_mic_msg(&packet, true).await {
                    tracing::warn!(%error, "stat report not sent");
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
    use super::*;

    #[test]
    fn buckets_and_merges_as_tarscpp() {
        let call = |t: i32| StatMicMsgBody {
            count: 1,
            total_rsp_time: t.into(),
            max_rsp_time: t,
            min_rsp_time: t,
            ..Default::default()
        };
        let mut body = call(7);
        add_interval(&mut body, 7);
        add_call(&mut body, &call(3));
        add_call(
            &mut body,
            &StatMicMsgBody {
                timeout_count: 1,
                ..Default::default()
            },
        );
        add_call(&mut body, &call(5000));
        assert_eq!(
            (body.count, body.timeout_count, body.total_rsp_time),
            (3, 1, 5010)
        );
        assert_eq!((body.max_rsp_time, body.min_rsp_time), (5000, 3));
        let buckets: Vec<(i32, i32)> = body.interval_count.into_iter().collect();
        // 7 ms -> 10; 3 ms and the timeout (0 ms) -> 5; 5000 ms -> none.
        assert_eq!(
            buckets,
            [
                (5, 2),
                (10, 1),
                (50, 0),
                (100, 0),
                (200, 0),
                (500, 0),
                (1000, 0),
                (2000, 0),
                (3000, 0)
            ]
        );
    }

    #[test]
    fn names_sets_and_packets() {
        assert_eq!(slave_name("App.Server.Obj"), "App.Server");
        assert_eq!(slave_name("Obj"), "Obj");
        assert_eq!(
            set_parts(Some("s.a.1")),
            Some(["s".into(), "a".into(), "1".into()])
        );
        assert_eq!(set_parts(Some("*.a.1")), None);
        assert_eq!(limit("\tabc\r", 2), "ab");
        let map: BTreeMap<u32, ()> = (0..10).map(|i| (i, ())).collect();
        let sizes: Vec<usize> = split(map, 1400, |_, _| 300)
            .iter()
            .map(|p| p.len())
            .collect();
        assert_eq!(sizes, [4, 4, 2]);
    }
}
