//! Cross-check of `tars_core::config` with `@tars/utils`' `Configure`, the config parser of
//! Tars.js: the same fixture files read by both must give the same domains (in order), the
//! same parameter values, the same raw lines, and every path `Configure.get` can spell must
//! give the value our `Config::get` gives.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{node, run_with_timeout, LIMIT};
use serde_json::Value;
use tars_core::config::{Config, Domain};

/// The fixtures both parsers read alike (escapes are TC_Config's only: not here).
const FILES: &[&str] = &[
    "tarsnode_server.conf",
    "template_default.conf",
    "edge_cases.conf",
    "crlf.conf",
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tars-core/tests/fixtures/config")
        .join(name)
}

struct Check {
    problems: Vec<String>,
    values: usize,
}

impl Check {
    fn domain(&mut self, ours: &Domain, js: &Value, path: &str) {
        let js_params: BTreeMap<&str, &str> = js["params"]
            .as_object()
            .expect("params")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("a string value")))
            .collect();
        let our_params: BTreeMap<&str, &str> = ours.params().collect();
        for (key, value) in &our_params {
            match js_params.get(key) {
                Some(v) if v == value => self.values += 1,
                Some(v) => self
                    .problems
                    .push(format!("{path}<{key}>: ours {value:?}, Configure {v:?}")),
                None => self
                    .problems
                    .push(format!("{path}<{key}>: ours {value:?}, not in Configure")),
            }
        }
        for key in js_params.keys().filter(|k| !our_params.contains_key(*k)) {
            self.problems
                .push(format!("{path}<{key}>: only in Configure"));
        }

        let js_lines: Vec<&str> = js["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l.as_str().expect("a line"))
            .collect();
        if js_lines != ours.lines() {
            self.problems.push(format!(
                "{path}: lines differ: ours {:?}, Configure {js_lines:?}",
                ours.lines()
            ));
        }

        let js_domains = js["domains"].as_array().expect("domains");
        let js_names: Vec<&str> = js_domains
            .iter()
            .map(|d| d[0].as_str().expect("a name"))
            .collect();
        let our_names: Vec<&str> = ours.domain_names().collect();
        if js_names != our_names {
            self.problems.push(format!(
                "{path}: sub-domains differ: ours {our_names:?}, Configure {js_names:?}"
            ));
            return;
        }
        for (sub, js_sub) in ours.domains().zip(js_domains) {
            self.domain(sub, &js_sub[1], &format!("{path}/{}", sub.name()));
        }
    }
}

#[test]
fn tarsjs_configure_reads_the_fixtures_as_we_do() {
    let paths: Vec<String> = FILES
        .iter()
        .map(|f| fixture(f).display().to_string())
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let (ok, output) = run_with_timeout(node("config_dump.js", &args), LIMIT);
    assert!(ok, "config_dump.js failed:\n{output}");
    let stdout = output
        .split("\n--- stderr ---\n")
        .next()
        .unwrap_or_default();
    let dump: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("config_dump.js printed no JSON ({e}):\n{output}"));

    let mut check = Check {
        problems: Vec::new(),
        values: 0,
    };
    let mut lookups = 0;
    for path in &paths {
        let ours = Config::from_file(path).unwrap_or_else(|e| panic!("{e}"));
        let js = &dump[path.as_str()];
        check.domain(ours.root(), &js["tree"], path);
        for l in js["lookups"].as_array().expect("lookups") {
            let domains: Vec<&str> = l["domains"]
                .as_array()
                .expect("domains")
                .iter()
                .map(|d| d.as_str().expect("a name"))
                .collect();
            let key = l["key"].as_str().expect("a key");
            let ours_path = format!("/{}<{key}>", domains.join("/"));
            let theirs = l["value"].as_str().expect("a value");
            match ours.get(&ours_path) {
                Some(v) if v == theirs => lookups += 1,
                v => check.problems.push(format!(
                    "{path}: get {ours_path}: ours {v:?}, Configure.get {theirs:?}"
                )),
            }
        }
    }
    assert!(
        check.problems.is_empty(),
        "differences from @tars/utils Configure:\n{}",
        check.problems.join("\n")
    );
    // The fixtures hold 89 parameters; a dump that compared nothing fails.
    assert!(check.values >= 89, "only {} values compared", check.values);
    assert!(lookups > 50, "only {lookups} lookups compared");
}
