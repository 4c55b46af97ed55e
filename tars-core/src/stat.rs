//! StatF aggregation shared by the caller-side reports (`client/stat.rs`) and the
//! server-side ones (`server/stat.rs`): one interval's `StatMicMsgHead -> StatMicMsgBody`
//! table, merged and bucketed as TarsCpp's `StatReport`, and the packet split of its
//! `reportMicMsg`. Pure data: sending is the communicator's report task.

use crate::framework::tars::{StatMicMsgBody, StatMicMsgHead};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// TarsCpp's latency bucket bounds (ms): a call of `t` ms counts in the first bound above `t`.
pub const STAT_BUCKETS: [i32; 9] = [5, 10, 50, 100, 200, 500, 1000, 2000, 3000];
/// TarsCpp's `MAX_MASTER_NAME_LEN` and `MAX_MASTER_IP_LEN`.
pub(crate) const MAX_NAME_LEN: usize = 127;
pub(crate) const MAX_IP_LEN: usize = 50;
/// TarsCpp's estimate of one stat entry's protocol overhead (`STAT_PROTOCOL_LEN`).
const STAT_ENTRY_OVERHEAD: usize = 100;

/// One interval's stat entries.
pub(crate) type StatMap = BTreeMap<StatMicMsgHead, StatMicMsgBody>;

/// How one call ended, as TarsCpp's `StatReport::StatResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatResult {
    /// Answered: counted with its time.
    Success(i32),
    /// Timed out: `timeoutCount`.
    Timeout,
    /// Failed otherwise: `execCount`.
    Exception,
}

/// TarsCpp's `trimAndLimitStr`: `\r` and `\t` trimmed, cut to `limit` bytes.
pub(crate) fn limit(s: &str, limit: usize) -> String {
    let s = s.trim_matches(['\r', '\t']);
    let mut end = s.len().min(limit);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `name.area.id` split as TarsCpp accepts a set division (three parts, no `*` name/area).
pub(crate) fn set_parts(division: Option<&str>) -> Option<[String; 3]> {
    let parts: Vec<&str> = division?.trim().split('.').collect();
    match parts.as_slice() {
        [n, a, i] if *n != "*" && *a != "*" => Some([n.to_string(), a.to_string(), i.to_string()]),
        _ => None,
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

/// Merges one call into `body` the way TarsCpp's `submit` / `AdapterProxy::merge` do.
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
pub(crate) fn split<K: Ord, V>(
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

/// One interval's stat entries of one side (callers or servers), filled from any task.
#[derive(Debug, Default)]
pub(crate) struct StatTable {
    map: Mutex<StatMap>,
}

impl StatTable {
    /// Counts one call under `head`.
    pub(crate) fn record(&self, head: StatMicMsgHead, result: StatResult) {
        let mut body = StatMicMsgBody::default();
        match result {
            StatResult::Success(t) => {
                body.count = 1;
                body.total_rsp_time = i64::from(t);
                body.max_rsp_time = t;
                body.min_rsp_time = t;
            }
            StatResult::Timeout => body.timeout_count = 1,
            StatResult::Exception => body.exec_count = 1,
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&head) {
            Some(old) => add_call(old, &body),
            None => {
                let t = body.max_rsp_time;
                add_interval(&mut body, t);
                map.insert(head, body);
            }
        }
    }

    /// The interval's entries in packets of at most `max` estimated bytes; the interval
    /// starts over.
    pub(crate) fn take(&self, max: usize) -> Vec<StatMap> {
        let map = std::mem::take(&mut *self.map.lock().unwrap_or_else(|e| e.into_inner()));
        split(map, max, stat_cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_merges_as_tarscpp() {
        let table = StatTable::default();
        let head = StatMicMsgHead::default();
        for result in [
            StatResult::Success(7),
            StatResult::Success(3),
            StatResult::Timeout,
            StatResult::Success(5000),
            StatResult::Exception,
        ] {
            table.record(head.clone(), result);
        }
        let mut packets = table.take(1400);
        assert_eq!(packets.len(), 1);
        let body = packets.pop().unwrap().remove(&head).unwrap();
        assert_eq!((body.count, body.timeout_count, body.exec_count), (3, 1, 1));
        assert_eq!(body.total_rsp_time, 5010);
        assert_eq!((body.max_rsp_time, body.min_rsp_time), (5000, 3));
        let buckets: Vec<(i32, i32)> = body.interval_count.into_iter().collect();
        // 7 ms -> 10; 3 ms and the failures (0 ms) -> 5; 5000 ms -> none.
        assert_eq!(
            buckets,
            [
                (5, 3),
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
        assert!(table.take(1400).is_empty(), "the interval starts over");
    }

    #[test]
    fn names_sets_and_packets() {
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
