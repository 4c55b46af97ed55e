//! Helpers of the deployment tests: the fake tarsnode/tarsnotify (`tests/node/fake_tarsnode.js`),
//! server configs written the way tarsnode writes them, and the AdminObj client.
#![allow(dead_code)]

use crate::common;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tars_core::config::Config;

pub const HELLO_ADAPTER: &str = "Test.HelloServer.HelloObjAdapter";
pub const ADMIN_ADAPTER: &str = "AdminAdapter";

/// The fake tarsnode and tarsnotify, recording every call.
pub struct FakeNode {
    child: Child,
    pub node_port: u16,
    pub notify_port: u16,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeNode {
    pub fn start() -> FakeNode {
        let mut cmd = common::node("fake_tarsnode.js", &[]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start fake_tarsnode.js");
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("node ") {
                    let _ = tx.send(("node", port.parse::<u16>().unwrap()));
                } else if let Some(port) = line.strip_prefix("notify ") {
                    let _ = tx.send(("notify", port.parse::<u16>().unwrap()));
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let (mut node_port, mut notify_port) = (0, 0);
        while node_port == 0 || notify_port == 0 {
            let (what, port) = rx
                .recv_timeout(common::LIMIT)
                .expect("fake_tarsnode.js did not print its ports");
            if what == "node" {
                node_port = port;
            } else {
                notify_port = port;
            }
        }
        FakeNode {
            child,
            node_port,
            notify_port,
            events,
        }
    }

    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Waits (up to the test limit) until `cond` holds on the events so far.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let events = self.events();
            if cond(&events) {
                return events;
            }
            assert!(
                start.elapsed() < common::LIMIT,
                "{what}: not seen; events: {events:#?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A free local port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .unwrap()
        .join("deploy-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What goes into a test server's config.
pub struct Setup {
    pub dir: PathBuf,
    pub admin_port: u16,
    pub node: Option<u16>,
    pub notify: Option<u16>,
    pub keepalive_ms: u64,
    pub keepactiving_ms: u64,
    pub log_level: &'static str,
    /// `log` (default `tars.tarslog.LogObj`, a name the registry would resolve).
    pub log: Option<String>,
    /// `config` (default `tars.tarsconfig.ConfigObj`).
    pub config: Option<String>,
}

impl Setup {
    pub fn new(dir: PathBuf) -> Setup {
        Setup {
            dir,
            admin_port: free_port(),
            node: None,
            notify: None,
            keepalive_ms: 10_000,
            keepactiving_ms: 5_000,
            log_level: "DEBUG",
            log: None,
            config: None,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("app_log")
    }

    pub fn log_file(&self) -> PathBuf {
        self.log_path()
            .join("Test/HelloServer/Test.HelloServer.log")
    }

    /// Writes `conf/Test.HelloServer.config.conf` as tarsnode does (NodeServer's
    /// CommandLoad): the node object and one domain per adapter (allow, endpoint, maxconns,
    /// protocol, queuecap, queuetimeout, servant, threads) joined, with update, onto the
    /// server's template (tars.default with its macros replaced).
    pub fn write(&self) -> PathBuf {
        let server = "/tars/application/server";
        let mut generated = Config::new();
        if let Some(port) = self.node {
            generated
                .set(
                    &format!("{server}<node>"),
                    format!("tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p {port} -t 60000"),
                )
                .unwrap();
        }
        let adapter = format!("{server}/{HELLO_ADAPTER}");
        for (k, v) in [
            ("allow", ""),
            ("endpoint", "tcp -h 127.0.0.1 -p 0 -t 60000"),
            ("maxconns", "200000"),
            ("protocol", "tars"),
            ("queuecap", "10000"),
            ("queuetimeout", "60000"),
            ("servant", "Test.HelloServer.HelloObj"),
            ("threads", "5"),
        ] {
            generated.set(&format!("{adapter}<{k}>"), v).unwrap();
        }
        let base = self.dir.display();
        let notify = match self.notify {
            Some(port) => format!("tars.tarsnotify.NotifyObj@tcp -h 127.0.0.1 -p {port}"),
            None => String::new(),
        };
        let template = format!(
            "<tars>\n  <application>\n    enableset=n\n    setdivision=NULL\n    <server>\n\
             \x20     app=Test\n      server=HelloServer\n      localip=127.0.0.1\n\
             \x20     local=tcp -h 127.0.0.1 -p {admin} -t 10000\n\
             \x20     basepath={base}/bin/\n      datapath={base}/data/\n\
             \x20     logpath={logs}\n      logsize=10M\n      lognum=10\n\
             \x20     logLevel={level}\n      config={config}\n\
             \x20     notify={notify}\n      log={log}\n\
             \x20     deactivating-timeout=3000\n      activating-timeout=60000\n\
             \x20     keepalive-interval={alive}\n      keepactiving-interval={activing}\n\
             \x20   </server>\n    <client>\n\
             \x20     locator=tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890\n\
             \x20     sync-invoke-timeout=3000\n      async-invoke-timeout=5000\n\
             \x20     refresh-endpoint-interval=60000\n      stat=tars.tarsstat.StatObj\n\
             \x20     property=tars.tarsproperty.PropertyObj\n      report-interval=60000\n\
             \x20     asyncthread=3\n      modulename=Test.HelloServer\n    </client>\n\
             \x20 </application>\n</tars>\n",
            admin = self.admin_port,
            logs = self.log_path().display(),
            level = self.log_level,
            config = self
                .config
                .as_deref()
                .unwrap_or("tars.tarsconfig.ConfigObj"),
            log = self.log.as_deref().unwrap_or("tars.tarslog.LogObj"),
            alive = self.keepalive_ms,
            activing = self.keepactiving_ms,
        );
        let template: Config = template.parse().unwrap();
        generated.join(&template, true);
        let conf = self.dir.join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let path = conf.join("Test.HelloServer.config.conf");
        generated.write_file(&path).unwrap();
        path
    }
}

/// `hello_tars_server --config=FILE`, started and announcing its HelloObj port.
pub fn start_server(config: &Path) -> common::ChildGuard {
    let mut cmd = Command::new(common::example_bin("hello_tars_server"));
    cmd.arg(format!("--config={}", config.display()));
    common::spawn_listening(cmd)
}

/// Waits (up to the test limit) for the child to exit.
pub fn wait_exit(child: &mut common::ChildGuard) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < common::LIMIT, "server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `node admin_client.js AdminObj@... ARGS`: (success, stdout).
pub fn admin(port: u16, args: &[&str]) -> (bool, String) {
    let obj = format!("AdminObj@tcp -h 127.0.0.1 -p {port}");
    let mut all = vec![obj.as_str()];
    all.extend_from_slice(args);
    common::run_with_timeout(common::node("admin_client.js", &all), common::LIMIT)
}

/// Sends `AdminObj.notify(command)` and answers its result.
pub fn notify(port: u16, command: &str) -> String {
    let (ok, out) = admin(port, &["notify", command]);
    assert!(ok, "notify {command}: {out}");
    let line = out.lines().next().unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ret"], 0, "{out}");
    v["result"].as_str().unwrap().to_string()
}
