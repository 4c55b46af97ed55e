//! Remote config against a fake tarsconfig on Tars.js (`tests/node/fake_config.js`):
//! `add_config` fetches into `basepath`, rotates `FILE.N.bak` as TarsCpp (five kept), loads by
//! set with `loadConfigByInfo`, falls back to the local file when tarsconfig fails or is gone
//! (and errs clearly without one), and `tars.loadconfig FILE` through AdminObj refetches and
//! runs the application's hook on the new file.

mod common;
mod deploy;

use common::fake::Fake;
use common::within;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tars_core::app::remote_config::{backup_path, MAX_BACKUPS};
use tars_core::app::{Application, RemoteConfig};
use tars_core::client::Communicator;
use tars_core::config::Config;
use tars_core::framework::tars::AdminFProxy;
use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};

fn temp_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .unwrap()
        .join("remote-config-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config_obj(port: u16) -> String {
    format!("tars.tarsconfig.ConfigObj@tcp -h 127.0.0.1 -p {port} -t 60000")
}

fn serve(fake: &mut Fake, file: &str, content: &str) {
    fake.command(json!({ "file": file, "content": content }));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `n`-th load the fake got.
fn load(fake: &Fake, n: usize) -> Value {
    fake.wait_for("the load", |c| c.len() > n)[n].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_into_basepath_and_rotates_five_backups() {
    let mut fake = Fake::start("fake_config.js", "config");
    let dir = temp_dir("rotate");
    let comm = Communicator::new();
    let obj = config_obj(fake.port);
    let rc = RemoteConfig::new(&comm, Some(&obj), "Test", "HelloServer", &dir, "");
    assert!(rc.has_config_center());

    serve(&mut fake, "a.conf", "v0");
    let loaded = within("add_config", rc.add_config("a.conf")).await.unwrap();
    assert_eq!(loaded.path, dir.join("a.conf"));
    assert!(loaded.from_remote);
    assert_eq!(loaded.message, "[succ] get remote config:a.conf");
    assert_eq!(read(&dir.join("a.conf")), "v0");
    let call = load(&fake, 0);
    assert_eq!(call["func"], "loadConfig", "{call}");
    assert_eq!(
        (&call["app"], &call["server"], &call["filename"]),
        (&json!("Test"), &json!("HelloServer"), &json!("a.conf"))
    );

    for i in 1..=7 {
        serve(&mut fake, "a.conf", &format!("v{i}"));
        within("add_config", rc.add_config("a.conf")).await.unwrap();
    }
    // The same content again: nothing rotates.
    within("add_config", rc.add_config("a.conf")).await.unwrap();
    let file = dir.join("a.conf");
    assert_eq!(read(&file), "v7");
    for n in 1..=MAX_BACKUPS {
        let bak = dir.join(format!("a.conf.{n}.bak"));
        assert_eq!(bak, backup_path(&file, n));
        assert_eq!(read(&bak), format!("v{}", 7 - n), "{}", bak.display());
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a.conf",
            "a.conf.1.bak",
            "a.conf.2.bak",
            "a.conf.3.bak",
            "a.conf.4.bak",
            "a.conf.5.bak"
        ],
        "five backups, no temporary file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_loads_by_info_and_app_files_name_no_server() {
    let mut fake = Fake::start("fake_config.js", "config");
    let dir = temp_dir("set");
    let comm = Communicator::new();
    let obj = config_obj(fake.port);
    let rc = RemoteConfig::new(&comm, Some(&obj), "Test", "HelloServer", &dir, "gz.sz.1");
    serve(&mut fake, "s.conf", "set content");
    within("add_config", rc.add_config("s.conf")).await.unwrap();
    within("add_app_config", rc.add_app_config("s.conf"))
        .await
        .unwrap();
    assert_eq!(read(&dir.join("s.conf")), "set content");
    let (server, app) = (load(&fake, 0), load(&fake, 1));
    for (call, servername, app_only) in [(&server, "HelloServer", false), (&app, "", true)] {
        assert_eq!(call["func"], "loadConfigByInfo", "{call}");
        assert_eq!(call["app"], "Test", "{call}");
        assert_eq!(call["server"], servername, "{call}");
        assert_eq!(call["filename"], "s.conf", "{call}");
        assert_eq!(call["bAppOnly"], app_only, "{call}");
        assert_eq!(call["setdivision"], "gz.sz.1", "{call}");
        assert_eq!(call["host"], "", "{call}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_or_gone_tarsconfig_keeps_the_local_file() {
    let mut fake = Fake::start("fake_config.js", "config");
    let dir = temp_dir("fallback");
    let comm = Communicator::new();
    let obj = config_obj(fake.port);
    let rc = RemoteConfig::new(&comm, Some(&obj), "Test", "HelloServer", &dir, "");
    serve(&mut fake, "a.conf", "remote");
    serve(&mut fake, "empty.conf", "");
    within("add_config", rc.add_config("a.conf")).await.unwrap();

    // An unknown file (-1), an empty answer, every load failing: nothing local, a clear error.
    for file in ["unknown.conf", "empty.conf"] {
        let e = within("add_config", rc.add_config(file)).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("[fail] get remote config '{file}' error:")),
            "{text}"
        );
        assert!(text.contains("no local file"), "{text}");
        assert!(!dir.join(file).exists());
    }
    fake.command(json!({ "fail": -3 }));
    let e = within("add_config", rc.add_config("b.conf"))
        .await
        .unwrap_err();
    assert!(e.why.contains("answered -3"), "{e}");
    // ... and with the local file, it is kept as it is.
    let kept = within("add_config", rc.add_config("a.conf")).await.unwrap();
    assert!(!kept.from_remote);
    assert_eq!(
        kept.message,
        format!(
            "[fail] get remote config:a.conffail,use the local config: {}",
            dir.join("a.conf").display()
        )
    );
    assert_eq!(read(&dir.join("a.conf")), "remote");

    // tarsconfig gone: the same.
    fake.kill();
    let kept = within("add_config", rc.add_config("a.conf")).await.unwrap();
    assert!(!kept.from_remote, "{kept:?}");
    let e = within("add_config", rc.add_config("b.conf"))
        .await
        .unwrap_err();
    assert!(e.why.contains("unreachable"), "{e}");
    assert!(!backup_path(&dir.join("a.conf"), 1).exists());
}

fn app_config(dir: &Path, config_port: u16) -> Config {
    let text = format!(
        "<tars>\n<application>\n<server>\napp=Test\nserver=HelloServer\n\
         basepath={base}\nlocal=tcp -h 127.0.0.1 -p 0 -t 10000\nconfig={obj}\n\
         <Test.HelloServer.HelloObjAdapter>\nendpoint=tcp -h 127.0.0.1 -p 0 -t 60000\n\
         servant={HELLO_OBJ}\n</Test.HelloServer.HelloObjAdapter>\n</server>\n\
         </application>\n</tars>\n",
        base = dir.display(),
        obj = config_obj(config_port),
    );
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadconfig_through_admin_obj_refetches_and_runs_the_hook() {
    let mut fake = Fake::start("fake_config.js", "config");
    let dir = temp_dir("admin");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let app = Application::from_config(app_config(&dir, fake.port), "test.conf").unwrap();
    serve(&mut fake, "a.conf", "first");
    let first = within("add_config", app.add_config("a.conf"))
        .await
        .unwrap();
    assert_eq!(read(&first.path), "first");
    let (hook_seen, base) = (seen.clone(), dir.clone());
    let running = app
        .servant(HELLO_OBJ, HelloServant::new(HelloImpl::default()))
        .log_to_file(false)
        .on_load_config(move |file| {
            // The hook runs once the new file is in basepath.
            let content = std::fs::read_to_string(base.join(file)).map_err(|e| e.to_string())?;
            hook_seen.lock().unwrap().push(content.clone());
            Ok(format!("reloaded {content}"))
        })
        .start(async { Ok::<(), String>(()) })
        .await
        .unwrap();
    let admin_port = running.admin_endpoint().unwrap().port;
    let comm = Communicator::new();
    let admin: AdminFProxy = comm
        .string_to_proxy(&format!("AdminObj@tcp -h 127.0.0.1 -p {admin_port}"))
        .unwrap();
    let notify = |command: &'static str| {
        let admin = admin.clone();
        async move { within(command, admin.notify(command)).await.unwrap() }
    };

    serve(&mut fake, "a.conf", "second");
    assert_eq!(
        notify("tars.loadconfig a.conf").await,
        "[notify prefix object num:1]\n[1]:[succ] get remote config:a.conf\nreloaded second\n"
    );
    assert_eq!(read(&dir.join("a.conf")), "second");
    assert_eq!(read(&dir.join("a.conf.1.bak")), "first");
    assert_eq!(*seen.lock().unwrap(), ["second"]);

    // tarsconfig failing: the local file is kept and the hook still runs on it.
    fake.command(json!({ "fail": -1 }));
    let kept = notify("tars.loadconfig a.conf").await;
    assert!(
        kept.starts_with(
            "[notify prefix object num:1]\n[1]:[fail] get remote config:a.conffail,use the local config: "
        ),
        "{kept}"
    );
    assert!(kept.ends_with("\nreloaded second\n"), "{kept}");
    // No file at all: an error, and the hook does not run.
    let missing = notify("tars.loadconfig b.conf").await;
    assert!(
        missing.starts_with(
            "[notify prefix object num:1]\n[1]:[fail] get remote config 'b.conf' error:"
        ),
        "{missing}"
    );
    let bad = notify("tars.loadconfig ../b.conf").await;
    assert!(bad.contains("not a plain file name"), "{bad}");
    assert_eq!(*seen.lock().unwrap(), ["second", "second"]);
    assert_eq!(
        running.remote_config().basepath(),
        dir.as_path(),
        "the running application's client writes into basepath"
    );
    running.request_shutdown();
    within("stop", running.wait()).await.unwrap();
}

#[test]
fn loadconfig_of_a_deployed_server_through_tarsjs() {
    let mut fake = Fake::start("fake_config.js", "config");
    let mut setup = deploy::Setup::new(deploy::temp_dir("remote-config"));
    setup.config = Some(config_obj(fake.port));
    let config = setup.write();
    let mut server = deploy::start_server(&config);
    serve(&mut fake, "Test.HelloServer.conf", "<x>\ny=1\n</x>\n");
    assert_eq!(
        deploy::notify(setup.admin_port, "tars.loadconfig Test.HelloServer.conf"),
        "[notify prefix object num:1]\n[1]:[succ] get remote config:Test.HelloServer.conf\n"
    );
    let file = setup.dir.join("bin/Test.HelloServer.conf");
    assert_eq!(read(&file), "<x>\ny=1\n</x>\n");
    serve(&mut fake, "Test.HelloServer.conf", "<x>\ny=2\n</x>\n");
    deploy::notify(setup.admin_port, "tars.loadconfig Test.HelloServer.conf");
    assert_eq!(read(&file), "<x>\ny=2\n</x>\n");
    assert_eq!(read(&backup_path(&file, 1)), "<x>\ny=1\n</x>\n");
    let call = load(&fake, 1);
    assert_eq!(
        (&call["app"], &call["server"]),
        (&json!("Test"), &json!("HelloServer"))
    );
    let (ok, out) = deploy::admin(setup.admin_port, &["shutdown"]);
    assert!(ok, "{out}");
    assert!(deploy::wait_exit(&mut server).success());
}
