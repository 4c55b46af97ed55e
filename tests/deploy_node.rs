//! hello_tars_server under a fake tarsnode and tarsnotify (Tars.js, `tests/node/fake_tarsnode.js`):
//! the heartbeats' order, adapters, pid and cadence, the notify reports, a Tars.js client
//! served, and a one-way `shutdown` that ends the process with status 0.

mod common;
mod deploy;

use deploy::{FakeNode, Setup, HELLO_ADAPTER};
use serde_json::Value;

fn func(e: &Value) -> &str {
    e["func"].as_str().unwrap_or_default()
}

fn node_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["obj"] == "node").collect()
}

fn keep_alives<'a>(events: &'a [Value], adapter: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| func(e) == "keepAlive" && e["adapter"] == adapter)
        .collect()
}

#[test]
fn heartbeats_reports_and_oneway_shutdown() {
    let fake = FakeNode::start();
    let mut setup = Setup::new(deploy::temp_dir("heartbeats"));
    setup.node = Some(fake.node_port);
    setup.notify = Some(fake.notify_port);
    setup.keepalive_ms = 100;
    setup.keepactiving_ms = 50;
    let config = setup.write();
    let mut server = deploy::start_server(&config);
    let pid = server.child.id() as i64;

    // It serves the Tars.js client.
    let target = format!(
        "Test.HelloServer.HelloObj@tcp -h 127.0.0.1 -p {}",
        server.port
    );
    let (ok, out) = common::run_with_timeout(
        common::node(
            "hello_client.js",
            &[&target, "--only", "sayHello,add,notify"],
        ),
        common::LIMIT,
    );
    assert!(ok, "hello_client.js: {out}");

    // Counted over a run: at least five rounds of adapter heartbeats.
    fake.wait_for("five heartbeat rounds", |e| {
        keep_alives(e, deploy::ADMIN_ADAPTER).len() >= 5
    });
    let (ok, out) = deploy::admin(setup.admin_port, &["getPid"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{{\"pid\":{pid}}}")), "{out}");
    assert_eq!(
        deploy::notify(setup.admin_port, "tars.viewversion"),
        format!(
            "[notify prefix object num:1]\n[1]:$tars-rs {}$\n",
            env!("CARGO_PKG_VERSION")
        )
    );

    let (ok, out) = deploy::admin(setup.admin_port, &["shutdown", "--oneway"]);
    assert!(ok, "{out}");
    let status = deploy::wait_exit(&mut server);
    assert!(status.success(), "exit status {status:?}");
    let events = fake.wait_for("the stop report", |e| {
        e.iter()
            .any(|e| e["obj"] == "notify" && e["message"] == "stop")
    });

    // Order: keepActiving during initialisation, then reportVersion and keepAlive(""), then
    // rounds of one keepAlive per adapter, AdminAdapter last.
    let node = node_events(&events);
    let first_version = node
        .iter()
        .position(|e| func(e) == "reportVersion")
        .expect("reportVersion sent");
    assert!(first_version >= 1, "keepActiving first: {node:#?}");
    assert!(node[..first_version]
        .iter()
        .all(|e| func(e) == "keepActiving"));
    assert_eq!(
        node.iter().filter(|e| func(e) == "reportVersion").count(),
        1
    );
    let v = node[first_version];
    assert_eq!(v["app"], "Test");
    assert_eq!(v["server"], "HelloServer");
    assert_eq!(
        v["version"],
        format!("tars-rs {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(func(node[first_version + 1]), "keepAlive");
    assert_eq!(node[first_version + 1]["adapter"], "");
    let rounds: Vec<&str> = node[first_version + 2..]
        .iter()
        .map(|e| {
            assert_eq!(func(e), "keepAlive", "{e}");
            e["adapter"].as_str().unwrap()
        })
        .collect();
    assert!(rounds.len() >= 10, "{rounds:?}");
    for pair in rounds.chunks(2) {
        assert_eq!(pair[0], HELLO_ADAPTER, "{rounds:?}");
        if pair.len() == 2 {
            assert_eq!(pair[1], deploy::ADMIN_ADAPTER, "{rounds:?}");
        }
    }
    for e in &node {
        assert!(e["oneway"] == true, "one-way: {e}");
        if func(e) != "reportVersion" {
            assert_eq!(e["pid"], pid, "{e}");
            assert_eq!(e["app"], "Test");
            assert_eq!(e["server"], "HelloServer");
        }
    }
    // Cadence: rounds fit the 100 ms interval over the time they span (loosely: a round
    // takes at least the interval; the upper bound only says the beats keep coming).
    let alive = keep_alives(&events, deploy::ADMIN_ADAPTER);
    let span = alive.last().unwrap()["ms"].as_i64().unwrap() - alive[0]["ms"].as_i64().unwrap();
    let gaps = alive.len() as i64 - 1;
    assert!(span >= gaps * 100 - 50, "{gaps} gaps in {span} ms");
    assert!(span <= gaps * 100 * 20 + 1000, "{gaps} gaps in {span} ms");

    // Notify: restart at start, the admin command, stop at the end.
    let reports: Vec<&str> = events
        .iter()
        .filter(|e| e["obj"] == "notify")
        .map(|e| {
            assert!(e["oneway"] == true, "one-way: {e}");
            assert_eq!(e["app"], "Test");
            assert_eq!(e["server"], "HelloServer");
            assert_eq!(e["type"], 0, "REPORT");
            e["message"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        reports,
        ["restart", "AdminServant::notify:tars.viewversion", "stop"]
    );
    assert!(setup.log_file().exists(), "{}", setup.log_file().display());
}
