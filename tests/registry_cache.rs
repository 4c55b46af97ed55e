//! The on-disk last-known endpoint list of calling by name (`endpoint_cache_dir`): written
//! while the registry (the fake of `tests/node/fake_registry.js`) answers, used by a fresh
//! communicator while the registry is down; a corrupt or unreadable cache is warned about.

mod common;

use common::fake_registry::FakeRegistry;
use common::{hello_server, within};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tars_core::client::ClientConfig;
use tars_core::prelude::*;
use tars_rs::demo::hello::{HelloProxy, HELLO_OBJ};

/// Everything tars-core logs, from every test of this binary.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("tars_core=info")
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        logs
    })
    .clone()
}

/// The log lines that mention `needle`.
fn logged(needle: &str) -> Vec<String> {
    let logs = logs();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

fn fresh_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .unwrap()
        .join("registry-cache-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(locator: String, dir: &Path) -> ClientConfig {
    ClientConfig {
        locator: Some(locator),
        endpoint_cache_dir: Some(dir.to_path_buf()),
        refresh_endpoint_interval: Duration::from_millis(200),
        invoke_timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    }
}

/// A locator whose port nobody listens on: the registry is down.
fn dead_locator() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p {port}")
}

/// The only file of `dir`.
fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_registry_outage_uses_the_cached_list() {
    logs();
    let dir = fresh_dir("outage");
    let (server, port) = hello_server().await;
    let mut registry = FakeRegistry::start(0);
    registry.set(HELLO_OBJ, &[port], &[]);

    let comm = Communicator::with_config(config(registry.locator(), &dir));
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    let (_, greeting) = within("a call by name", proxy.say_hello("up"))
        .await
        .unwrap();
    assert_eq!(greeting, "hello up");
    let file = only_file(&dir);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("tcp -h 127.0.0.1 -p {port} -t 60000\n"),
        "the registry's list is cached"
    );
    comm.shutdown();
    drop(registry);

    // A fresh communicator (a restarted process) while the registry is down.
    let comm = Communicator::with_config(config(dead_locator(), &dir));
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    for name in ["a", "b", "c"] {
        let (_, greeting) = within("a call from the cache", proxy.say_hello(name))
            .await
            .unwrap();
        assert_eq!(greeting, format!("hello {name}"));
    }
    assert!(
        !logged("using the cached endpoint list").is_empty(),
        "the cache was used"
    );
    comm.shutdown();
    server.shutdown().await;
}

/// Calls by name with the registry down and `cache` as the cached list: they fail with a
/// clear error (never a panic or a hang).
async fn fails_with(dir: &Path) -> TarsError {
    let comm = Communicator::with_config(config(dead_locator(), dir));
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    let error = within("a call without endpoints", proxy.say_hello("x"))
        .await
        .unwrap_err();
    comm.shutdown();
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cache_is_warned_about_and_not_used() {
    logs();
    let dir = fresh_dir("corrupt");
    // Learn the file name from a good run first.
    let (server, port) = hello_server().await;
    let mut registry = FakeRegistry::start(0);
    registry.set(HELLO_OBJ, &[port], &[]);
    let comm = Communicator::with_config(config(registry.locator(), &dir));
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    within("a call", proxy.say_hello("up")).await.unwrap();
    comm.shutdown();
    drop(registry);
    server.shutdown().await;
    let file = only_file(&dir);
    let shown = file.display().to_string();

    std::fs::write(&file, "not an endpoint\n\u{0}\u{1}garbage -p x\n").unwrap();
    let error = fails_with(&dir).await;
    assert!(
        error.to_string().contains(HELLO_OBJ),
        "the error names the object: {error}"
    );
    assert!(
        logged("endpoint cache: bad line skipped")
            .iter()
            .any(|l| l.contains(&shown) && l.contains("line=1")),
        "{:?}",
        logged("endpoint cache")
    );
    assert!(logged("endpoint cache holds no endpoint")
        .iter()
        .any(|l| l.contains(&shown)));

    // Not UTF-8.
    std::fs::write(&file, [0xff, 0xfe, 0xfd]).unwrap();
    fails_with(&dir).await;
    assert!(logged("endpoint cache unreadable")
        .iter()
        .any(|l| l.contains(&shown)));

    // A directory where the file should be: unreadable.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let before = logged("endpoint cache unreadable").len();
    fails_with(&dir).await;
    assert!(logged("endpoint cache unreadable").len() > before);
}
