//! hello_tars_server's AdminObj driven by a Tars.js client (`tests/node/admin_client.js`):
//! the command registry and its framing, `tars.setloglevel` changing the file log, calls in
//! flight answered across a one-way `shutdown`, and configs that are refused.

mod common;
mod deploy;

use deploy::Setup;
use std::process::Command;

#[test]
fn commands_and_setloglevel() {
    let setup = Setup::new(deploy::temp_dir("commands"));
    let config = setup.write();
    let mut server = deploy::start_server(&config);
    let port = setup.admin_port;

    let help = deploy::notify(port, "tars.help");
    for c in [
        "tars.connection",
        "tars.help",
        "tars.loadconfig",
        "tars.setloglevel",
        "tars.viewstatus",
        "tars.viewversion",
        "hello.ping",
    ] {
        assert!(help.contains(&format!("{c}\r\n")), "{help}");
    }
    assert!(
        help.starts_with("[notify prefix object num:1]\n[1]:"),
        "{help}"
    );
    assert_eq!(deploy::notify(port, "no.such.command"), "");
    assert_eq!(
        deploy::notify(port, "hello.ping a b"),
        "[notify servant object num:1]\n[1]:pong a b\n"
    );
    let status = deploy::notify(port, "tars.viewstatus");
    assert!(
        status.contains("[adapter:Test.HelloServer.HelloObjAdapter]"),
        "{status}"
    );
    assert!(status.contains("maxconns=200000"), "{status}");
    let conns = deploy::notify(port, "tars.connection");
    assert!(
        conns.contains("[adapter:Test.HelloServer.HelloObjAdapter] [connections:0]"),
        "{conns}"
    );
    assert!(
        conns.contains("[adapter:AdminAdapter] [connections:1]"),
        "{conns}"
    );
    // `config` names tarsconfig, which the (absent) registry cannot find: TarsCpp's error.
    let load = deploy::notify(port, "tars.loadconfig extra.conf");
    assert!(
        load.starts_with(
            "[notify prefix object num:1]\n[1]:[fail] get remote config 'extra.conf' error:"
        ),
        "{load}"
    );
    assert!(load.contains("no local file"), "{load}");

    // DEBUG (the config's logLevel) logs each command at INFO; after WARN, only warnings.
    deploy::notify(port, "marker.before");
    assert_eq!(
        deploy::notify(port, "tars.setloglevel WARN"),
        "[notify prefix object num:1]\n[1]:set log level [WARN] ok\n"
    );
    deploy::notify(port, "marker.after");
    assert_eq!(
        deploy::notify(port, "tars.setloglevel LOUD"),
        "[notify prefix object num:1]\n[1]:set log level [LOUD] error\n"
    );
    let (ok, out) = deploy::admin(port, &["shutdown"]);
    assert!(ok, "two-way shutdown: {out}");
    let status = deploy::wait_exit(&mut server);
    assert!(status.success(), "exit status {status:?}");

    let log = std::fs::read_to_string(setup.log_file()).expect("log file");
    assert!(log.contains("command=marker.before"), "{log}");
    assert!(!log.contains("marker.after"), "{log}");
    assert!(log.contains("shutdown requested through AdminObj"), "{log}");
    let after = &log[log
        .find("tars.setloglevel WARN")
        .expect("the command is logged")..];
    assert!(!after.contains(" INFO "), "INFO after WARN: {after}");
}

#[test]
fn oneway_shutdown_answers_calls_in_flight() {
    let setup = Setup::new(deploy::temp_dir("inflight"));
    let config = setup.write();
    let mut server = deploy::start_server(&config);
    let hello = format!(
        "Test.HelloServer.HelloObj@tcp -h 127.0.0.1 -p {}",
        server.port
    );
    let (ok, out) = deploy::admin(setup.admin_port, &["inflight", &hello, "20", "300"]);
    assert!(ok && out.contains("ok inflight 20"), "{out}");
    let status = deploy::wait_exit(&mut server);
    assert!(status.success(), "exit status {status:?}");
}

fn refused(config: &std::path::Path) -> String {
    let mut cmd = Command::new(common::example_bin("hello_tars_server"));
    cmd.arg("--config").arg(config);
    let (ok, out) = common::run_with_timeout(cmd, common::LIMIT);
    assert!(!ok, "started with {}: {out}", config.display());
    out
}

#[test]
fn bad_configs_are_refused_with_their_line() {
    let dir = deploy::temp_dir("bad");
    let bad = dir.join("bad.conf");
    std::fs::write(
        &bad,
        "<tars>\n  <application>\n    <server>\n      app=Test\n    </client>\n  </application>\n</tars>\n",
    )
    .unwrap();
    let out = refused(&bad);
    assert!(out.contains(&format!("{}:5:", bad.display())), "{out}");

    // An adapter serving a servant the program lacks: named, with the line of its servant.
    let setup = Setup::new(dir.clone());
    let good = setup.write();
    let text = std::fs::read_to_string(&good).unwrap().replace(
        "servant=Test.HelloServer.HelloObj",
        "servant=Test.HelloServer.OtherObj",
    );
    let other = dir.join("other.conf");
    std::fs::write(&other, text).unwrap();
    let out = refused(&other);
    assert!(out.contains("`Test.HelloServer.OtherObj`"), "{out}");
    assert!(out.contains("Test.HelloServer.HelloObj"), "{out}");

    let bad_ep = dir.join("endpoint.conf");
    let text = std::fs::read_to_string(&good).unwrap().replace(
        "endpoint=tcp -h 127.0.0.1 -p 0",
        "endpoint=tcp -h 127.0.0.1 -p x",
    );
    std::fs::write(&bad_ep, &text).unwrap();
    let line = text.lines().position(|l| l.contains("-p x")).unwrap() + 1;
    let out = refused(&bad_ep);
    assert!(out.contains(&format!("endpoint.conf:{line}:")), "{out}");

    // Without --config it does not start either.
    let cmd = Command::new(common::example_bin("hello_tars_server"));
    let (ok, out) = common::run_with_timeout(cmd, common::LIMIT);
    assert!(
        !ok && out.contains("usage: hello_tars_server --config=FILE"),
        "{out}"
    );
}
