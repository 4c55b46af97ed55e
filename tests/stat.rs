//! Stat and property reports against a fake tarsstat/tarsproperty written on Tars.js
//! (`tests/node/fake_stat.js`, decoding with @tars/monitor's StatF and PropertyF types):
//! known calls (successes, an error code, a timeout, unknown functions) through a
//! communicator with `stat` set, then the decoded reports checked field by field.

mod common;

use common::fake_stat::FakeStat;
use common::{hello_server, node, within};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tars_core::client::{CallInfo, CallLayer, CallOutcome, ClientConfig, STAT_BUCKETS};
use tars_core::prelude::*;
use tars_rs::demo::hello::{HelloProxy, HELLO_OBJ};

/// One call as a layer sees it: function, duration (ms), result.
type Seen = (String, u128, Result<i32, String>);

/// The duration and result of each call, as every layer sees them.
#[derive(Default)]
struct Durations(Mutex<Vec<Seen>>);

impl CallLayer for Durations {
    fn after(&self, call: &CallInfo<'_>, outcome: &CallOutcome<'_>) {
        if call.oneway {
            return;
        }
        self.0.lock().unwrap().push((
            call.func.to_string(),
            outcome.duration.as_millis(),
            outcome.result.map_err(|e| e.to_string()),
        ));
    }
}

/// One stat body summed over reports (an interval may end between the calls).
#[derive(Debug, Default, PartialEq)]
struct Body {
    count: i64,
    timeout: i64,
    exec: i64,
    total: i64,
    max: i64,
    min: i64,
    buckets: BTreeMap<i64, i64>,
}

impl Body {
    fn add(&mut self, b: &Value) {
        let n = |k: &str| b[k].as_i64().unwrap_or_else(|| panic!("{k} in {b}"));
        self.count += n("count");
        self.timeout += n("timeoutCount");
        self.exec += n("execCount");
        self.total += n("totalRspTime");
        self.max = self.max.max(n("maxRspTime"));
        let min = n("minRspTime");
        if self.min == 0 || (min != 0 && min < self.min) {
            self.min = min;
        }
        for (k, v) in b["intervalCount"].as_object().expect("intervalCount") {
            *self.buckets.entry(k.parse().unwrap()).or_default() += v.as_i64().unwrap();
        }
    }
}

/// What TarsCpp's rules make of calls of these durations (`None`: a timeout or an error).
fn expected(calls: &[Option<u128>], timeouts: i64) -> Body {
    let mut body = Body {
        buckets: STAT_BUCKETS.iter().map(|&b| (i64::from(b), 0)).collect(),
        ..Body::default()
    };
    for call in calls {
        let t = call.map_or(0, |t| t as i64);
        if call.is_some() {
            body.count += 1;
            body.total += t;
            body.max = body.max.max(t);
            if body.min == 0 || (t != 0 && t < body.min) {
                body.min = t;
            }
        }
        if let Some(b) = STAT_BUCKETS.iter().find(|&&b| i64::from(b) > t) {
            *body.buckets.get_mut(&i64::from(*b)).unwrap() += 1;
        }
    }
    body.timeout = timeouts;
    body.exec = calls.iter().filter(|c| c.is_none()).count() as i64 - timeouts;
    body
}

/// TarsCpp's size estimate of one stat entry.
fn cost(head: &Value) -> usize {
    100 + [
        "masterName",
        "slaveName",
        "interfaceName",
        "slaveSetName",
        "slaveSetArea",
        "slaveSetID",
    ]
    .iter()
    .map(|k| head[k].as_str().unwrap().len())
    .sum::<usize>()
}

/// Runs `tests/node/monitor_stat.js` on `calls` with our `head`'s values and compares its
/// decoded report with ours field by field. Equal: the head, count, timeoutCount,
/// execCount, totalRspTime, maxRspTime. Different by design (we follow TarsCpp):
/// @tars/monitor reports minRspTime 0, counts a call of exactly a bound in that bound
/// (`<=`, TarsCpp `<`), puts calls over 3000 ms in 3000, and buckets no failed call.
fn compare_with_monitor(head: &Value, ours: &Body, calls: &[(&str, u128)]) {
    let mut headers = head.clone();
    let h = headers.as_object_mut().unwrap();
    for drop in [
        "returnValue",
        "slaveSetName",
        "slaveSetArea",
        "slaveSetID",
        "tarsVersion",
    ] {
        h.remove(drop);
    }
    h.insert("bFromClient".into(), Value::Bool(true));
    let input = serde_json::json!({ "headers": headers, "calls": calls });
    let out = node("monitor_stat.js", &[&input.to_string()])
        .stderr(Stdio::null())
        .output()
        .expect("node runs");
    assert!(out.status.success(), "monitor_stat.js failed");
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let entry = &report["entries"][0];
    assert_eq!(&entry["head"], head, "the same head bytes");
    let mut theirs = Body::default();
    theirs.add(&entry["body"]);
    assert_eq!(
        (
            theirs.count,
            theirs.timeout,
            theirs.exec,
            theirs.total,
            theirs.max
        ),
        (ours.count, ours.timeout, ours.exec, ours.total, ours.max),
        "@tars/monitor {theirs:?} vs ours {ours:?}"
    );
    assert_eq!(theirs.min, 0, "@tars/monitor never reports a minimum");
    let on_bound = calls
        .iter()
        .any(|(kind, t)| *kind == "success" && (STAT_BUCKETS.contains(&(*t as i32)) || *t > 3000));
    if !on_bound {
        let failed = calls.iter().filter(|(kind, _)| *kind != "success").count() as i64;
        let mut buckets = ours.buckets.clone();
        *buckets.get_mut(&5).unwrap() -= failed;
        assert_eq!(theirs.buckets, buckets, "buckets apart from failed calls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_stats_and_properties_reach_a_tarsjs_tarsstat() {
    let fake = FakeStat::start();
    let (server, port) = hello_server().await;
    let comm = Communicator::with_config(ClientConfig {
        stat: Some(fake.stat_obj()),
        property: Some(fake.property_obj()),
        // Sent by `report_now` below, not by the clock.
        report_interval: Duration::from_secs(3600),
        max_report_size: 500,
        module_name: "TestApp.StatClient".into(),
        node_name: "10.0.0.9".into(),
        tars_version: "t1".into(),
        ..ClientConfig::default()
    });
    let durations = Arc::new(Durations::default());
    struct Shared(Arc<Durations>);
    impl CallLayer for Shared {
        fn after(&self, call: &CallInfo<'_>, outcome: &CallOutcome<'_>) {
            self.0.after(call, outcome)
        }
    }
    comm.add_layer(Shared(durations.clone()));

    let proxy: HelloProxy = comm
        .string_to_proxy(&format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    within("the calls", async {
        for name in ["a", "b", "c"] {
            proxy.say_hello(name).await.unwrap();
        }
        // A one-way call: not counted (TarsCpp drops one-way calls once sent).
        proxy.oneway().say_hello("one-way").await.unwrap();
        assert!(proxy.slow(-1).await.is_err(), "slow(-1) answers iRet 1");
        let quick = proxy.with_timeout(Duration::from_millis(100));
        assert!(quick.slow(2000).await.is_err(), "slow(2000) times out");
        // Functions the server does not have (FUNC_NOT_FOUND): ten more heads.
        for i in 0..10 {
            let _ = proxy
                .servant_proxy()
                .call(&format!("missing{i:02}"), bytes::Bytes::new(), 1, None)
                .await;
        }
    })
    .await;
    let queue = comm.property("queue");
    queue.sum(3);
    queue.sum(4);
    queue.max(7);
    queue.avg(1);
    queue.avg(2);
    let latency = comm.property("latency").distr_ranges(&[10, 100]);
    for v in [5, 50, 500] {
        latency.distr(v);
    }

    within("report_now", comm.report_now()).await;

    // Sum the packets of that report until every call is in them.
    let mut bodies: BTreeMap<String, Body> = BTreeMap::new();
    let mut props: BTreeMap<String, Value> = BTreeMap::new();
    let mut heads: BTreeMap<String, Value> = BTreeMap::new();
    let calls_seen = |bodies: &BTreeMap<String, Body>| {
        bodies
            .values()
            .map(|b| b.count + b.timeout + b.exec)
            .sum::<i64>()
    };
    while calls_seen(&bodies) < 15 || props.len() < 2 {
        let report = fake.next_report();
        assert_eq!(report["packetType"], 1, "reports are one-way: {report}");
        let entries = report["entries"].as_array().unwrap();
        assert!(!entries.is_empty());
        match report["func"].as_str().unwrap() {
            "reportMicMsg" => {
                assert_eq!(report["bFromClient"], true);
                let size: usize = entries.iter().map(|e| cost(&e["head"])).sum();
                assert!(
                    size <= 500 || entries.len() == 1,
                    "a packet over max-report-size: {report}"
                );
                for entry in entries {
                    let head = &entry["head"];
                    let func = head["interfaceName"].as_str().unwrap().to_string();
                    assert_eq!(head["masterName"], "TestApp.StatClient@t1", "{head}");
                    assert_eq!(head["slaveName"], "Test.HelloServer", "{head}");
                    assert_eq!(head["masterIp"], "10.0.0.9", "{head}");
                    assert_eq!(head["slaveIp"], "127.0.0.1", "{head}");
                    assert_eq!(head["slavePort"], i64::from(port), "{head}");
                    assert_eq!(head["returnValue"], 0, "{head}");
                    for empty in ["slaveSetName", "slaveSetArea", "slaveSetID", "tarsVersion"] {
                        assert_eq!(head[empty], "", "{head}");
                    }
                    heads.insert(func.clone(), head.clone());
                    bodies.entry(func).or_default().add(&entry["body"]);
                }
            }
            "reportPropMsg" => {
                for entry in entries {
                    let head = &entry["head"];
                    assert_eq!(head["moduleName"], "TestApp.StatClient", "{head}");
                    assert_eq!(head["ip"], "", "{head}");
                    assert_eq!(head["iPropertyVer"], 2, "{head}");
                    let name = head["propertyName"].as_str().unwrap().to_string();
                    assert!(props.insert(name, entry["body"]["vInfo"].clone()).is_none());
                }
            }
            other => panic!("unexpected report {other}"),
        }
    }
    assert_eq!(calls_seen(&bodies), 15, "{bodies:?}");
    assert!(
        fake.unread() == 0,
        "one report, nothing more: the reports' own calls are not counted"
    );
    let funcs: Vec<&str> = bodies.keys().map(String::as_str).collect();
    let mut want = vec!["sayHello".to_string(), "slow".to_string()];
    want.extend((0..10).map(|i| format!("missing{i:02}")));
    want.sort();
    assert_eq!(
        funcs, want,
        "one head per function; the reports' own calls are not counted"
    );

    let seen = durations.0.lock().unwrap().clone();
    let hello: Vec<Option<u128>> = seen
        .iter()
        .filter(|(f, _, r)| f == "sayHello" && *r == Ok(0))
        .map(|(_, t, _)| Some(*t))
        .collect();
    assert_eq!(hello.len(), 3);
    assert_eq!(bodies["sayHello"], expected(&hello, 0));
    // The error and the timeout: no count, no times, both in the 5 ms bucket (TarsCpp
    // buckets failed calls as 0 ms).
    assert_eq!(bodies["slow"], expected(&[None, None], 1));
    assert_eq!(bodies["missing03"], expected(&[None], 0));

    // The same calls through @tars/monitor's stat encoder (what a Tars.js caller sends).
    let slow: Vec<u128> = seen
        .iter()
        .filter(|(f, _, _)| f == "slow")
        .map(|(_, t, _)| *t)
        .collect();
    let hello_calls: Vec<(&str, u128)> = hello.iter().map(|t| ("success", t.unwrap())).collect();
    compare_with_monitor(&heads["sayHello"], &bodies["sayHello"], &hello_calls);
    compare_with_monitor(
        &heads["slow"],
        &bodies["slow"],
        &[("error", slow[0]), ("timeout", slow[1])],
    );

    let policies = |name: &str| -> Vec<(String, String)> {
        props[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["policy"].as_str().unwrap().to_string(),
                    i["value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        policies("queue"),
        pairs(&[("Sum", "7"), ("Max", "7"), ("Avg", "1.5")])
    );
    assert_eq!(policies("latency"), pairs(&[("Distr", "10|1,100|1,max|1")]));

    comm.shutdown();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_go_out_every_report_interval() {
    let fake = FakeStat::start();
    let (server, port) = hello_server().await;
    let comm = Communicator::with_config(ClientConfig {
        stat: Some(fake.stat_obj()),
        report_interval: Duration::from_millis(100),
        ..ClientConfig::default()
    });
    let proxy: HelloProxy = comm
        .string_to_proxy(&format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    within("a call", proxy.say_hello("x")).await.unwrap();
    // No report_now: the interval sends it.
    let report = tokio::task::spawn_blocking(move || {
        let report = fake.next_report();
        drop(fake);
        report
    })
    .await
    .unwrap();
    assert_eq!(report["func"], "reportMicMsg");
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{report}");
    assert_eq!(entries[0]["head"]["interfaceName"], "sayHello");
    assert_eq!(entries[0]["body"]["count"], 1);
    // The default masterName: the executable's name and tars-core's version.
    let master = entries[0]["head"]["masterName"].as_str().unwrap();
    assert!(
        master.starts_with("stat-") && master.contains('@'),
        "{master}"
    );
    comm.shutdown();
    server.shutdown().await;
}
