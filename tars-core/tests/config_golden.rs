//! Golden tests of `tars_core::config` over the files in `tests/fixtures/config`: a server
//! config laid out as tarsnode writes it, a `tars.default`-shaped template, edge cases and
//! malformed files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tars_core::config::{ByteSize, Config, ConfigError};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn load(name: &str) -> Config {
    Config::from_file(fixture(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

#[test]
fn tarsnode_server_config_reads_as_a_server_sees_it() {
    let c = load("tarsnode_server.conf");
    let server = "/tars/application/server";
    assert_eq!(c.get(&format!("{server}<app>")), Some("Test"));
    assert_eq!(c.get(&format!("{server}<server>")), Some("HelloServer"));
    assert_eq!(
        c.get(&format!("{server}<local>")),
        Some("tcp -h 127.0.0.1 -p 32001 -t 10000")
    );
    assert_eq!(
        c.get(&format!("{server}<node>")),
        Some("tars.tarsnode.ServerObj@tcp -h 10.0.0.5 -p 19386 -t 60000")
    );
    assert_eq!(
        c.get_or(&format!("{server}<logsize>"), ByteSize(0)),
        ByteSize(10 << 20)
    );
    assert_eq!(
        c.get_or(&format!("{server}<deactivating-timeout>"), 0u64),
        3000
    );
    assert!(!c.get_or("/tars/application<enableset>", true));

    let adapters = c.sub_domains(server);
    assert_eq!(
        adapters,
        [
            "Test.HelloServer.PushObjAdapter",
            "Test.HelloServer.HelloObjAdapter"
        ]
    );
    let hello = format!("{server}/Test.HelloServer.HelloObjAdapter");
    assert_eq!(
        c.get(&format!("{hello}<servant>")),
        Some("Test.HelloServer.HelloObj")
    );
    assert_eq!(c.get(&format!("{hello}<allow>")), Some(""));
    assert_eq!(
        c.get_parsed::<u32>(&format!("{hello}<maxconns>")),
        Ok(Some(200000))
    );
    assert_eq!(c.get_or(&format!("{hello}<threads>"), 1usize), 5);
    assert_eq!(
        c.keys(&hello),
        [
            "allow",
            "endpoint",
            "maxconns",
            "protocol",
            "queuecap",
            "queuetimeout",
            "servant",
            "threads"
        ]
    );
    assert_eq!(
        c.get(&format!("{server}/Test.HelloServer.PushObjAdapter<allow>")),
        Some("10.0.0.1;10.0.0.2")
    );
    assert_eq!(
        c.get("/tars/application/client<locator>"),
        Some("tars.tarsregistry.QueryObj@tcp -h 10.0.0.1 -p 17890:tcp -h 10.0.0.2 -p 17890")
    );
    assert_eq!(c.sub_domains("/tars/application"), ["server", "client"]);
}

#[test]
fn tarsnode_layout_is_the_writers_layout() {
    // The file is laid out as TC_Config::tostr lays it out, so writing it back gives it back.
    let original = text("tarsnode_server.conf");
    assert_eq!(
        load("tarsnode_server.conf").to_tars_string().unwrap(),
        original
    );
}

/// What `CommandLoad::updateConfigFile` does: `node` and the adapters (their keys set from a
/// sorted map, the adapters visited in reverse name order), then the template with its
/// macros replaced is joined in with `update`, and the result written.
#[test]
fn the_tarsnode_generation_steps_give_the_tarsnode_file() {
    let mut generated = Config::new();
    generated
        .set(
            "/tars/application/server<node>",
            "tars.tarsnode.ServerObj@tcp -h 10.0.0.5 -p 19386 -t 60000",
        )
        .unwrap();
    let adapters = [
        (
            "Test.HelloServer.HelloObjAdapter",
            "18601",
            "",
            "200000",
            "HelloObj",
            "5",
        ),
        (
            "Test.HelloServer.PushObjAdapter",
            "18602",
            "10.0.0.1;10.0.0.2",
            "100000",
            "PushObj",
            "2",
        ),
    ];
    for (name, port, allow, maxconns, obj, threads) in adapters.iter().rev() {
        let m = BTreeMap::from([
            ("endpoint", format!("tcp -h 10.0.0.5 -p {port} -t 60000")),
            ("allow", allow.to_string()),
            ("queuecap", "10000".to_string()),
            ("queuetimeout", "60000".to_string()),
            ("maxconns", maxconns.to_string()),
            ("threads", threads.to_string()),
            ("servant", format!("Test.HelloServer.{obj}")),
            ("protocol", "tars".to_string()),
        ]);
        let d = generated
            .insert_domain(&format!("/tars/application/server/{name}"))
            .unwrap();
        for (k, v) in m {
            d.set(k, v);
        }
    }

    let macros = [
        ("enableset", "n"),
        ("setdivision", "NULL"),
        (
            "locator",
            "tars.tarsregistry.QueryObj@tcp -h 10.0.0.1 -p 17890:tcp -h 10.0.0.2 -p 17890",
        ),
        ("asyncthread", "3"),
        ("modulename", "Test.HelloServer"),
        ("app", "Test"),
        ("server", "HelloServer"),
        ("nodename", "10.0.0.5"),
        ("localip", "10.0.0.5"),
        ("local", "tcp -h 127.0.0.1 -p 32001 -t 10000"),
        (
            "basepath",
            "/usr/local/app/tars/tarsnode/data/Test.HelloServer/bin/",
        ),
        (
            "datapath",
            "/usr/local/app/tars/tarsnode/data/Test.HelloServer/data/",
        ),
        ("logpath", "/usr/local/app/tars/app_log"),
    ];
    let mut profile = text("template_default.conf");
    for (name, value) in macros {
        profile = profile.replace(&format!("${{{name}}}"), value);
    }
    assert!(!profile.contains("${"), "a macro is left:\n{profile}");
    let template: Config = profile.parse().unwrap();

    generated.join(&template, true);
    assert_eq!(
        generated.to_tars_string().unwrap(),
        text("tarsnode_server.conf")
    );
}

#[test]
fn template_reads_with_macros_as_values() {
    let c = load("template_default.conf");
    assert_eq!(
        c.get("/tars/application/client<locator>"),
        Some("${locator}")
    );
    assert_eq!(
        c.get("/tars/application/client<stat>"),
        Some("tars.tarsstat.StatObj")
    );
    assert_eq!(
        c.get_or("/tars/application/client<sync-invoke-timeout>", 0u32),
        3000
    );
    assert_eq!(c.get("/tars/application/server<logLevel>"), Some("DEBUG"));
    assert_eq!(c.sub_domains("/tars/application"), ["client", "server"]);
    assert_eq!(
        c.keys("/tars/application/client"),
        [
            "locator",
            "sync-invoke-timeout",
            "async-invoke-timeout",
            "refresh-endpoint-interval",
            "stat",
            "property",
            "report-interval",
            "asyncthread",
            "modulename"
        ]
    );
    // Comments are not kept; the rest reads back the same.
    let written = c.to_tars_string().unwrap();
    assert!(!written.contains('#'));
    assert_eq!(written.parse::<Config>().unwrap(), c);
}

#[test]
fn edge_cases() {
    let c = load("edge_cases.conf");
    assert_eq!(c.get("/<top-level>"), Some("outside every domain"));
    assert_eq!(c.get("/tars<tabbed>"), Some("value with tabs inside"));
    assert_eq!(c.get("/tars<spaced>"), Some("a b c"));
    assert_eq!(c.get("/tars<equals>"), Some("a=b=c"));
    assert_eq!(c.get("/tars<angle>"), Some("<not a tag> and > too"));
    assert_eq!(c.get("/tars<hash>"), Some("value # not a comment"));
    assert_eq!(c.get("/tars<bare>"), Some(""));
    assert_eq!(c.get("/tars<empty>"), Some(""));
    assert_eq!(c.get("/tars<repeated>"), Some("second"));
    assert_eq!(c.get("/tars<unicode>"), Some("你好, мир"));
    let keys = c.keys("/tars");
    assert_eq!(keys.iter().filter(|k| **k == "repeated").count(), 1);
    assert_eq!(keys.last(), Some(&"url"));
    assert_eq!(
        keys.iter().position(|k| *k == "repeated").unwrap(),
        keys.iter().position(|k| *k == "other").unwrap() + 1
    );
    assert_eq!(
        c.sub_domains("/tars"),
        ["reopened", "second", "deep", "empty-domain"]
    );
    assert_eq!(c.keys("/tars/reopened"), ["b", "a"]);
    assert_eq!(c.get("/tars/reopened<a>"), Some("3"));
    assert_eq!(c.get("/tars/deep/deeper/deepest<k>"), Some("v"));
    assert!(c.has_domain("/tars/empty-domain"));
    assert!(c.keys("/tars/empty-domain").is_empty());
    assert_eq!(c.lines("/tars/reopened"), ["a=1", "b=2", "a=3"]);
    let written = c.to_tars_string().unwrap();
    assert_eq!(written.parse::<Config>().unwrap(), c);
}

#[test]
fn crlf_file() {
    let c = load("crlf.conf");
    assert_eq!(c.get("/tars/server<app>"), Some("Test"));
    assert_eq!(c.keys("/tars/server"), ["app", "allow"]);
}

#[test]
fn escapes() {
    let c = load("escapes.conf");
    assert_eq!(c.get("/tars<key=with=equals>"), Some("value"));
    assert_eq!(c.get("/tars<multi>"), Some("line one\nline two\r\n"));
    assert_eq!(c.get("/tars<tab>"), Some("a\tb"));
    assert_eq!(c.get("/tars<backslash>"), Some("C:\\tars\\bin"));
    assert_eq!(c.get("/tars<equals>"), Some("=leading"));
    assert_eq!(c.get("/tars<bare=key>"), Some(""));
    let written = c.to_tars_string().unwrap();
    assert!(
        written.contains("  key\\=with\\=equals=value\n"),
        "{written}"
    );
    assert!(
        written.contains("  backslash=C:\\\\tars\\\\bin\n"),
        "{written}"
    );
    assert_eq!(written.parse::<Config>().unwrap(), c);
}

fn syntax_error(name: &str) -> (String, usize, String) {
    match Config::from_file(fixture(name)) {
        Err(e @ ConfigError::Syntax { .. }) => {
            let shown = e.to_string();
            let ConfigError::Syntax { file, line, .. } = e else {
                unreachable!()
            };
            assert!(file.ends_with(name), "{file}");
            (file, line, shown)
        }
        other => panic!("{name}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn malformed_files_are_refused_with_their_line() {
    let (file, line, shown) = syntax_error("bad_unclosed.conf");
    assert_eq!(line, 8);
    assert_eq!(
        shown,
        format!("{file}:8: `</application>` does not close `<client>` (opened at line 6)")
    );

    let (file, line, shown) = syntax_error("bad_eof.conf");
    assert_eq!(line, 2);
    assert_eq!(
        shown,
        format!("{file}:2: `<application>` is not closed by the end of the file (line 5)")
    );

    let (_, line, shown) = syntax_error("bad_escape.conf");
    assert_eq!(line, 3);
    // `\t` is an escape (a tab); `\b` is not.
    assert!(shown.contains("unknown escape `\\b`"), "{shown}");

    let (_, line, shown) = syntax_error("bad_open.conf");
    assert_eq!(line, 6);
    assert!(
        shown.contains("`<client`: a domain tag without `>`"),
        "{shown}"
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let e = Config::from_file(fixture("no_such.conf")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(e.to_string().contains("no_such.conf"), "{e}");
}
