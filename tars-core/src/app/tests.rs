use super::settings::{AdapterProtocol, Settings};
use super::{config_path, AppError, Application};
use crate::config::Config;
use std::time::Duration;

fn args(a: &[&str]) -> Vec<String> {
    std::iter::once("server")
        .chain(a.iter().copied())
        .map(String::from)
        .collect()
}

#[test]
fn config_flag_in_both_spellings() {
    assert_eq!(config_path(args(&[])).unwrap(), None);
    assert_eq!(
        config_path(args(&["--config=a.conf"])).unwrap(),
        Some("a.conf".into())
    );
    assert_eq!(
        config_path(args(&["-x", "--config", "b.conf"])).unwrap(),
        Some("b.conf".into())
    );
    assert!(matches!(
        config_path(args(&["--config"])),
        Err(AppError::Args(_))
    ));
    assert!(matches!(
        config_path(args(&["--config="])),
        Err(AppError::Args(_))
    ));
}

const FIXTURE: &str = include_str!("../../tests/fixtures/config/tarsnode_server.conf");

#[test]
fn reads_a_tarsnode_config() {
    let cfg: Config = FIXTURE.parse().unwrap();
    let s = Settings::from_config(&cfg, "x.conf").unwrap();
    assert_eq!((s.app.as_str(), s.server.as_str()), ("Test", "HelloServer"));
    assert_eq!(
        s.local.as_deref(),
        Some("tcp -h 127.0.0.1 -p 32001 -t 10000")
    );
    assert_eq!(s.deactivating_timeout, Duration::from_millis(3000));
    assert_eq!(s.log_size, 10 << 20);
    assert_eq!(s.log_level, "DEBUG");
    assert_eq!(s.keepalive_interval, Duration::from_secs(10));
    assert_eq!(s.keepactiving_interval, Duration::from_secs(5));
    assert_eq!(
        s.log_file(),
        std::path::Path::new("/usr/local/app/tars/app_log/Test/HelloServer/Test.HelloServer.log")
    );
    let push = &s.adapters[0];
    assert_eq!(push.name, "Test.HelloServer.PushObjAdapter");
    assert_eq!(push.servant, "Test.HelloServer.PushObj");
    assert_eq!(push.allow, ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(push.max_connections, 100000);
    assert_eq!(push.queue_capacity, 10000);
    assert_eq!(push.queue_timeout, Duration::from_secs(60));
    assert_eq!(push.threads, 2);
    assert_eq!(push.protocol, AdapterProtocol::Tars);
    assert!(s.adapters[1].allow.is_empty());
    assert_eq!(
        s.client.locator.as_deref(),
        Some("tars.tarsregistry.QueryObj@tcp -h 10.0.0.1 -p 17890:tcp -h 10.0.0.2 -p 17890")
    );
    assert_eq!(s.client.stat.as_deref(), Some("tars.tarsstat.StatObj"));
    assert_eq!(
        s.client.property.as_deref(),
        Some("tars.tarsproperty.PropertyObj")
    );
    assert_eq!(s.client.report_interval, Duration::from_secs(60));
    assert_eq!(s.client.max_report_size, 1400);
    let text = FIXTURE.replace(
        "report-interval=60000",
        "report-interval=500\n      max-report-size=600",
    );
    let s = Settings::from_config(&text.parse().unwrap(), "x.conf").unwrap();
    assert_eq!(s.client.report_interval, Duration::from_millis(500));
    assert_eq!(s.client.max_report_size, 600);
}

#[test]
fn bad_values_name_file_and_line() {
    let text = FIXTURE.replace(
        "protocol=tars\n        queuecap=10000",
        "protocol=http\n        queuecap=10000",
    );
    let cfg = Config::parse_bytes(text.as_bytes(), "s.conf").unwrap();
    let e = Settings::from_config(&cfg, "s.conf")
        .unwrap_err()
        .to_string();
    let line = text
        .lines()
        .position(|l| l.contains("protocol=http"))
        .unwrap()
        + 1;
    assert!(e.starts_with(&format!("s.conf:{line}: ")), "{e}");
    assert!(e.contains("`http`"), "{e}");

    let cfg: Config = "<tars>\n</tars>\n".parse().unwrap();
    let e = Settings::from_config(&cfg, "e.conf")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no /tars/application/server"), "{e}");
}

struct Nothing;
impl crate::server::Servant for Nothing {
    fn dispatch<'a>(
        &'a self,
        _: &'a crate::Current,
        func: &'a str,
        _: crate::protocol::ParamsReader,
    ) -> crate::server::BoxFuture<'a, crate::TarsResult<crate::protocol::ParamsWriter>> {
        Box::pin(async move { Err(crate::__private::no_function(func)) })
    }
}

#[tokio::test]
async fn servants_must_match_the_adapters() {
    let cfg: Config = FIXTURE.parse().unwrap();
    let app = || {
        Application::from_config(cfg.clone(), "x.conf")
            .unwrap()
            .log_to_file(false)
    };
    let e = app()
        .servant("Test.HelloServer.HelloObj", Nothing)
        .start(async { Ok::<(), String>(()) })
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("`Test.HelloServer.PushObj` (adapter Test.HelloServer.PushObjAdapter)"),
        "{e}"
    );
    let e = app()
        .servant("Test.HelloServer.HelloObj", Nothing)
        .servant("Test.HelloServer.PushObj", Nothing)
        .servant("Test.HelloServer.Extra", Nothing)
        .start(async { Ok::<(), String>(()) })
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no adapter in /tars/application/server serves `Test.HelloServer.Extra`"),
        "{e}"
    );
    let e = app()
        .servant("AdminObj", Nothing)
        .start(async { Ok::<(), String>(()) })
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("framework's own"), "{e}");
}

#[test]
fn the_communicator_reports_as_app_server() {
    let app = Application::from_config(FIXTURE.parse().unwrap(), "x.conf").unwrap();
    let c = app.communicator().config();
    assert_eq!(c.stat.as_deref(), Some("tars.tarsstat.StatObj"));
    assert_eq!(c.property.as_deref(), Some("tars.tarsproperty.PropertyObj"));
    assert_eq!(c.module_name, "Test.HelloServer");
    assert_eq!(c.report_interval, Duration::from_secs(60));
    assert_eq!(c.node_name, app.settings().node_name);
}

#[test]
fn the_endpoint_cache_sits_in_datapath_with_a_locator() {
    let app = Application::from_config(FIXTURE.parse().unwrap(), "x.conf").unwrap();
    assert_eq!(
        app.communicator().config().endpoint_cache_dir,
        Some(std::path::PathBuf::from(
            "/usr/local/app/tars/tarsnode/data/Test.HelloServer/data/endpoints"
        ))
    );
    let no_datapath = FIXTURE.replace("datapath=", "x-datapath=");
    let app = Application::from_config(no_datapath.parse().unwrap(), "x.conf").unwrap();
    assert_eq!(app.communicator().config().endpoint_cache_dir, None);
}
