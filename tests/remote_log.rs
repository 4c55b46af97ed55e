//! Remote logs against a fake tarslog on Tars.js (`tests/node/fake_log.js`): `tracing` events
//! arrive as `loggerbyInfo` lines with TarsCpp's `LogInfo`; with tarslog stalled the loggers
//! never wait, the queue stays at its bound, drops are counted and warned about once; and a
//! server started from a config with `log` sends its logs there.

mod common;
mod deploy;

use common::fake::Fake;
use common::within;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tars_core::app::{RemoteLog, RemoteLogConfig};
use tars_core::client::Communicator;
use tracing_subscriber::layer::SubscriberExt;

fn log_obj(port: u16) -> String {
    format!("tars.tarslog.LogObj@tcp -h 127.0.0.1 -p {port} -t 60000")
}

/// Every line the fake got, in order.
fn lines(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .flat_map(|c| c["lines"].as_array().cloned().unwrap_or_default())
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// The warnings of the sender task (it runs on the runtime's threads, so they reach the
/// global subscriber): their `total` fields.
fn warnings() -> &'static Mutex<Vec<String>> {
    static SEEN: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || Capture(sink.clone()))
            .with_ansi(false);
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("the only global subscriber of this test binary");
        seen
    })
}

struct Capture(Arc<Mutex<Vec<String>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        if text.contains("remote log queue full") {
            self.0.lock().unwrap().push(text.into_owned());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with `remote`'s layer as this thread's subscriber.
fn logging<T>(remote: &RemoteLog, f: impl FnOnce() -> T) -> T {
    let subscriber = tracing_subscriber::registry().with(remote.layer());
    tracing::subscriber::with_default(subscriber, f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_arrive_with_tarscpp_log_info() {
    let fake = Fake::start("fake_log.js", "log");
    let comm = Communicator::new();
    let mut config = RemoteLogConfig::new("Test", "HelloServer");
    config.set_division = "gz.sz.1".into();
    let remote = RemoteLog::start(&comm, &log_obj(fake.port), config).unwrap();
    logging(&remote, || {
        tracing::info!(target: "myapp", user = 7, "hello remote");
        tracing::warn!(target: "tars_core::client", "framework internals stay local");
        tracing::error!(target: "myapp::db", "second");
    });
    assert!(within("flush", remote.flush(common::LIMIT)).await);
    let calls = fake.wait_for("both lines", |c| lines(c).len() >= 2);
    let got = lines(&calls);
    assert_eq!(got.len(), 2, "{got:?}");
    let time = |l: &str| {
        let (t, rest) = l.split_at(19);
        let b = t.as_bytes();
        assert!(
            b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            }),
            "a `%Y-%m-%d %H:%M:%S` time: {l:?}"
        );
        rest.to_string()
    };
    assert_eq!(time(&got[0]), "|INFO|myapp|hello remote user=7\n");
    assert_eq!(time(&got[1]), "|ERROR|myapp::db|second\n");
    for call in &calls {
        assert_eq!(call["func"], "loggerbyInfo", "{call}");
        assert_eq!(call["packetType"], 0, "a normal call: {call}");
        assert_eq!(
            call["info"],
            json!({
                "appname": "Test", "servername": "HelloServer", "sFilename": "",
                "sFormat": "%Y%m%d", "setdivision": "gz.sz.1", "bHasSufix": true,
                "bHasAppNamePrefix": true, "bHasSquareBracket": false, "sConcatStr": "_",
                "sSepar": "|", "sLogType": ""
            })
        );
    }
    let stats = remote.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped),
        (2, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tarslog_bounds_the_queue_and_never_blocks_the_logger() {
    let seen = warnings();
    let mut fake = Fake::start("fake_log.js", "log");
    fake.command(json!({ "stall": true }));
    let comm = Communicator::new();
    let mut config = RemoteLogConfig::new("Test", "HelloServer");
    config.queue_lines = 100;
    config.call_timeout = common::LIMIT * 2; // the held call neither ends nor fails
    let remote = RemoteLog::start(&comm, &log_obj(fake.port), config).unwrap();
    remote.log_line("first");
    // The sender is now inside a call the fake holds.
    fake.wait_for("the first call", |c| !c.is_empty());

    // 5000 lines from another thread: it finishes although tarslog never answers.
    const N: usize = 5000;
    let (done_tx, done) = std::sync::mpsc::channel();
    let logger = remote.clone();
    std::thread::spawn(move || {
        let kept = logging(&logger, || {
            (0..N)
                .filter(|i| {
                    let before = logger.dropped();
                    tracing::info!(target: "myapp", i, "line");
                    logger.dropped() == before
                })
                .count()
        });
        let _ = done_tx.send(kept);
    });
    let kept = done
        .recv_timeout(common::LIMIT)
        .expect("logging never waits for tarslog");
    let stats = remote.stats();
    assert_eq!(kept, 100, "exactly the queue's room was kept");
    assert_eq!(stats.queued, 100, "{stats:?}");
    assert_eq!(stats.dropped, (N - 100) as u64, "{stats:?}");
    assert_eq!(stats.sent, 0, "{stats:?}");

    // Released: the held call and the queued lines go; one warning for the drops.
    fake.command(json!({ "stall": false }));
    assert!(within("flush", remote.flush(common::LIMIT)).await);
    // The fake prints a call before answering it, but its stdout is read by another thread:
    // wait for the lines rather than read what has arrived so far.
    let got = lines(&fake.wait_for("the first line and the 100 kept", |c| lines(c).len() >= 101));
    assert_eq!(got.len(), 101, "the first line and the 100 kept");
    assert!(got[1].ends_with("|INFO|myapp|line i=0\n"), "{:?}", got[1]);
    assert!(
        got[100].ends_with("|INFO|myapp|line i=99\n"),
        "{:?}",
        got[100]
    );
    assert_eq!(remote.stats().sent, 101);
    let warned = seen.lock().unwrap().clone();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("total=4900"), "{warned:?}");

    // More drops within the warning interval: counted, not warned again.
    fake.command(json!({ "stall": true }));
    remote.log_line("stuck");
    fake.wait_for("the stuck call", |c| lines(c).len() > 101);
    for i in 0..300 {
        remote.log_line(format!("again {i}"));
    }
    assert_eq!(remote.dropped(), (N - 100 + 200) as u64);
    fake.command(json!({ "stall": false }));
    assert!(within("flush", remote.flush(common::LIMIT)).await);
    assert_eq!(seen.lock().unwrap().len(), 1, "one warning per interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_tarslog_counts_failed_lines() {
    let mut fake = Fake::start("fake_log.js", "log");
    let port = fake.port;
    fake.kill();
    let mut config = RemoteLogConfig::new("Test", "HelloServer");
    config.call_timeout = Duration::from_secs(5);
    let remote = RemoteLog::start(&Communicator::new(), &log_obj(port), config).unwrap();
    for i in 0..10 {
        remote.log_line(format!("l{i}"));
    }
    assert!(within("flush", remote.flush(common::LIMIT)).await);
    let stats = remote.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.queued),
        (0, 10, 0),
        "{stats:?}"
    );
}

#[test]
fn a_server_with_log_configured_sends_its_logs() {
    let mut fake = Fake::start("fake_log.js", "log");
    let mut setup = deploy::Setup::new(deploy::temp_dir("remote-log"));
    setup.log = Some(log_obj(fake.port));
    let config = setup.write();
    let mut server = deploy::start_server(&config);
    let reply = deploy::notify(setup.admin_port, "hello.ping remote-marker");
    assert_eq!(
        reply,
        "[notify servant object num:1]\n[1]:pong remote-marker\n"
    );
    let calls = fake.wait_for("the server's line", |c| {
        lines(c).iter().any(|l| l.contains("remote-marker"))
    });
    let line = lines(&calls)
        .into_iter()
        .find(|l| l.contains("remote-marker"))
        .unwrap();
    assert!(
        line.contains("|INFO|hello_tars_server|hello.ping remote-marker"),
        "{line:?}"
    );
    for call in &calls {
        assert_eq!(call["info"]["appname"], "Test");
        assert_eq!(call["info"]["servername"], "HelloServer");
        assert_eq!(call["info"]["sFilename"], "");
        assert_eq!(call["info"]["sFormat"], "%Y%m%d");
        // The framework's own lines (AdminObj.notify, started, ...) stay local.
        assert!(
            lines(std::slice::from_ref(call))
                .iter()
                .all(|l| !l.contains("|tars_core")),
            "{call}"
        );
    }
    let (ok, out) = deploy::admin(setup.admin_port, &["shutdown"]);
    assert!(ok, "{out}");
    assert!(deploy::wait_exit(&mut server).success());
    fake.kill();
}
