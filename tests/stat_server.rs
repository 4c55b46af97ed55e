//! Server-side stat reports (TarsCpp's `stat_from_server`, `reportMicMsg(msg, false)`):
//! a server run from its config file with `stat` set counts every answered call, and the
//! fake tarsstat of `tests/node/fake_stat.js` decodes the report field by field.

mod common;

use common::fake_stat::FakeStat;
use common::within;
use serde_json::Value;
use std::collections::BTreeMap;
use tars_core::app::Application;
use tars_core::client::ClientConfig;
use tars_core::prelude::*;
use tars_rs::demo::hello::{HelloImpl, HelloProxy, HelloServant, HELLO_OBJ};

fn config(stat_port: u16, set: bool) -> String {
    let set = if set {
        "enableset=y\n    setdivision=s.a.1\n"
    } else {
        "enableset=n\n"
    };
    format!(
        "<tars>\n  <application>\n    {set}    <server>\n      app=Test\n      server=HelloServer\n\
         \x20     logpath=/tmp\n\
         \x20     <Test.HelloServer.HelloObjAdapter>\n\
         \x20       endpoint=tcp -h 127.0.0.1 -p 0 -t 60000\n\
         \x20       servant=Test.HelloServer.HelloObj\n\
         \x20     </Test.HelloServer.HelloObjAdapter>\n    </server>\n    <client>\n\
         \x20     stat=tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p {stat_port}\n\
         \x20     report-interval=3600000\n    </client>\n  </application>\n</tars>\n"
    )
}

/// The server-side entries of the reports, by function, until `calls` calls are in them.
fn server_entries(fake: &FakeStat, calls: i64) -> BTreeMap<String, (Value, Value)> {
    let mut entries = BTreeMap::new();
    let mut seen = 0;
    while seen < calls {
        let report = fake.next_report();
        assert_eq!(report["func"], "reportMicMsg", "{report}");
        assert_eq!(
            report["bFromClient"], false,
            "only the server's calls: {report}"
        );
        assert_eq!(report["packetType"], 1, "one-way: {report}");
        for e in report["entries"].as_array().unwrap() {
            let b = &e["body"];
            let n = |k: &str| b[k].as_i64().unwrap();
            seen += n("count") + n("timeoutCount") + n("execCount");
            let func = e["head"]["interfaceName"].as_str().unwrap().to_string();
            let old = entries.insert(func, (e["head"].clone(), b.clone()));
            assert!(old.is_none(), "one entry per function: {report}");
        }
    }
    assert_eq!(seen, calls);
    entries
}

async fn run(set: bool) {
    let fake = FakeStat::start();
    let cfg = config(fake.stat_port, set).parse().unwrap();
    let app = Application::from_config(cfg, "stat.conf")
        .unwrap()
        .log_to_file(false)
        .servant(HELLO_OBJ, HelloServant::new(HelloImpl::default()));
    let comm = app.communicator().clone();
    assert!(comm.server_stat_layer().is_some(), "stat is set");
    let running = within("start", app.start(async { Ok::<(), String>(()) }))
        .await
        .unwrap();
    let port = running.endpoint(HELLO_OBJ).unwrap().port;

    // A caller without stat: only the server reports.
    let client = Communicator::with_config(ClientConfig::default());
    let proxy: HelloProxy = client
        .string_to_proxy(&format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    within("the calls", async {
        proxy.say_hello("a").await.unwrap();
        proxy.say_hello("b").await.unwrap();
        // One-way: no response, so not reported (as TarsCpp's sendResponse).
        proxy.oneway().say_hello("one-way").await.unwrap();
        // iRet 1: TarsCpp casts iRet to its StatResult, so 1 counts as a timeout.
        assert!(proxy.slow(-1).await.is_err());
        // No such function: an exception.
        let missing = proxy
            .servant_proxy()
            .call("missing", bytes::Bytes::new(), 1, None)
            .await
            .unwrap()
            .expect("an answer");
        assert_ne!(missing.ret, 0, "no such function");
    })
    .await;
    // Each answered call is counted before its response is written.
    within("report_now", comm.report_now()).await;
    let fake = tokio::task::spawn_blocking(move || {
        let entries = server_entries(&fake, 4);
        (fake, entries)
    });
    let (fake, entries) = fake.await.unwrap();
    let funcs: Vec<&str> = entries.keys().map(String::as_str).collect();
    assert_eq!(funcs, ["missing", "sayHello", "slow"]);
    let (slave, set_fields) = if set {
        ("Test.HelloServer.sa1", ["s", "a", "1"])
    } else {
        ("Test.HelloServer", ["", "", ""])
    };
    for (func, (head, _)) in &entries {
        assert_eq!(head["masterName"], "stat_from_server", "{head}");
        assert_eq!(head["slaveName"], slave, "{head}");
        assert_eq!(head["interfaceName"], func.as_str(), "{head}");
        assert_eq!(
            head["masterIp"], "127.0.0.1",
            "the caller's address: {head}"
        );
        assert_eq!(head["slaveIp"], "", "{head}");
        assert_eq!(head["slavePort"], 0, "{head}");
        assert_eq!(head["returnValue"], 0, "{head}");
        assert_eq!(head["slaveSetName"], set_fields[0], "{head}");
        assert_eq!(head["slaveSetArea"], set_fields[1], "{head}");
        assert_eq!(head["slaveSetID"], set_fields[2], "{head}");
        assert_eq!(head["tarsVersion"], "", "{head}");
    }
    let counts = |f: &str| {
        let b = &entries[f].1;
        let n = |k: &str| b[k].as_i64().unwrap();
        (n("count"), n("timeoutCount"), n("execCount"))
    };
    assert_eq!(counts("sayHello"), (2, 0, 0));
    assert_eq!(counts("slow"), (0, 1, 0));
    assert_eq!(counts("missing"), (0, 0, 1));
    let hello = &entries["sayHello"].1;
    let buckets: i64 = hello["intervalCount"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(buckets, 2, "each success in one bucket: {hello}");
    assert!(
        hello["maxRspTime"].as_i64() >= hello["minRspTime"].as_i64(),
        "{hello}"
    );
    assert!(
        fake.unread() == 0,
        "one report, nothing more: the report's own call is not counted"
    );

    client.shutdown();
    running.request_shutdown();
    within("stop", running.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reports_its_calls_as_tarscpp() {
    run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_in_a_set_reports_its_set() {
    run(true).await;
}

#[test]
fn without_stat_there_is_no_server_layer() {
    let comm = Communicator::with_config(ClientConfig {
        property: Some("tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1 -p 1".into()),
        ..ClientConfig::default()
    });
    assert!(
        comm.server_stat_layer().is_none(),
        "a property object is not a stat one"
    );
    assert!(Communicator::new().server_stat_layer().is_none());
}
