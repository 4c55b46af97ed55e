//! Calls every method of `Test.Hello` with edge values and prints `ok NAME` or
//! `FAIL NAME: why` per check; exits 0 only when every check passed.
//!
//! ```sh
//! cargo run --release --example hello_client -- "Test.HelloServer.HelloObj@tcp -h 127.0.0.1 -p PORT" [--tup] [--only m1,m2]
//! cargo run --release --example hello_client -- --locator "tars.tarsregistry.QueryObj@tcp -h H -p P" Test.HelloServer.HelloObj
//! ```
//! With `--locator`, an object name without `@` is looked up in that registry.

use std::time::{Duration, Instant};
use tars_core::prelude::*;
use tars_rs::cli;
use tars_rs::demo::hello::{sample_all_types, sample_person, AllTypes, HelloProxy, Person};

/// Runs the checks and counts failures.
struct Checks {
    only: Option<Vec<String>>,
    failed: usize,
    passed: usize,
}

impl Checks {
    fn wanted(&self, method: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|m| m == method))
    }

    fn report(&mut self, name: &str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.passed += 1;
                println!("ok {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL {name}: {why}");
            }
        }
    }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(got: TarsResult<T>, want: T) -> Result<(), String> {
    match got {
        Ok(got) if got == want => Ok(()),
        Ok(got) => Err(format!("got {got:?}, want {want:?}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn run(proxy: &HelloProxy, checks: &mut Checks) {
    if checks.wanted("sayHello") {
        let long = "n".repeat(300);
        for (name, arg) in [
            ("empty", ""),
            ("world", "world"),
            ("300_bytes", long.as_str()),
            ("utf8", "héllo 世界"),
        ] {
            let got = proxy.say_hello(arg).await;
            checks.report(
                &format!("sayHello.{name}"),
                expect_eq(got, (0, format!("hello {arg}"))),
            );
        }
    }
    if checks.wanted("add") {
        let cases = [
            ("small", 1, 2, 3),
            ("zero", 0, 0, 0),
            ("negative", -5, 3, -2),
            ("wrap_max", i32::MAX, 1, i32::MIN),
            ("wrap_min", i32::MIN, -1, i32::MAX),
            ("wide", 70000, -32769, 37231),
        ];
        for (name, a, b, sum) in cases {
            checks.report(
                &format!("add.{name}"),
                expect_eq(proxy.add(a, b).await, (0, sum)),
            );
        }
    }
    if checks.wanted("echoBytes") {
        let all: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for (name, data) in [("empty", vec![]), ("three", vec![1, 2, 3]), ("1000", all)] {
            let got = proxy.echo_bytes(&data).await;
            checks.report(
                &format!("echoBytes.{name}"),
                expect_eq(got, (0, data.clone())),
            );
        }
    }
    if checks.wanted("echoStruct") {
        for (name, p) in [
            ("full", sample_person()),
            (
                "minimal",
                Person {
                    name: "m".into(),
                    age: 1,
                    ..Person::default()
                },
            ),
        ] {
            let got = proxy.echo_struct(&p).await;
            checks.report(
                &format!("echoStruct.{name}"),
                expect_eq(got, (0, p.clone())),
            );
        }
    }
    if checks.wanted("echoAll") {
        for (name, v) in [
            ("full", sample_all_types()),
            ("defaults", AllTypes::default()),
        ] {
            let got = proxy.echo_all(&v).await;
            checks.report(&format!("echoAll.{name}"), expect_eq(got, (0, v.clone())));
        }
    }
    if checks.wanted("slow") {
        checks.report("slow.50ms", expect_eq(proxy.slow(50).await, (0, 50)));
        let slow_proxy = proxy.with_timeout(Duration::from_secs(5));
        let slow = tokio::spawn(async move { slow_proxy.slow(1000).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let fast = proxy.add(1, 2).await;
        let took = started.elapsed();
        let outcome = match fast {
            Ok((0, 3)) if took < Duration::from_millis(500) && !slow.is_finished() => Ok(()),
            Ok(r) => Err(format!(
                "fast call returned {r:?} after {took:?} (slow finished: {})",
                slow.is_finished()
            )),
            Err(e) => Err(e.to_string()),
        };
        checks.report("slow.head_of_line", outcome);
        let slow_result = slow
            .await
            .map_err(|e| TarsError::Invalid(e.to_string()))
            .and_then(|r| r);
        checks.report("slow.1000ms", expect_eq(slow_result, (0, 1000)));
    }
    if checks.wanted("notify") || checks.wanted("lastNotify") {
        let msg = format!("note-{}", std::process::id());
        let sent = proxy.oneway().notify(&msg).await;
        // One-way calls are not answered: poll until the server has seen it.
        let mut outcome = sent
            .map_err(|e| e.to_string())
            .and(Err("never seen".to_string()));
        for _ in 0..50 {
            match proxy.last_notify().await {
                Ok((0, got)) if got == msg => {
                    outcome = Ok(());
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    outcome = Err(e.to_string());
                    break;
                }
            }
        }
        checks.report("notify.oneway", outcome);
        let msg2 = format!("{msg}-twoway");
        let outcome = match proxy.notify(&msg2).await {
            Ok(()) => expect_eq(proxy.last_notify().await, (0, msg2.clone())),
            Err(e) => Err(e.to_string()),
        };
        checks.report("notify.twoway", outcome);
    }
    if checks.wanted("noSuchFunc") {
        let raw = proxy.servant_proxy();
        let outcome = match raw.invoke("noSuchFunc", raw.params_writer()).await {
            Err(e) if e.code() == -3 => Ok(()),
            Err(e) => Err(format!("want return code -3, got {e}")),
            Ok(_) => Err("want return code -3, got success".into()),
        };
        checks.report("noSuchFunc.ret_minus_3", outcome);
    }
}

#[tokio::main]
async fn main() {
    cli::init_logging();
    let Some(target) = cli::positional(&["only", "locator"]) else {
        eprintln!("usage: hello_client \"Test.HelloServer.HelloObj@tcp -h HOST -p PORT\" [--tup] [--only m1,m2] [--locator LOCATOR]");
        std::process::exit(2);
    };
    let only = cli::flag("only").map(|s| s.split(',').map(|m| m.trim().to_string()).collect());
    let comm = cli::communicator();
    let mut proxy: HelloProxy = match comm.string_to_proxy(&target) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hello_client: {e}");
            std::process::exit(2);
        }
    };
    if cli::switch("tup") {
        proxy = proxy.tup();
    }
    let mut checks = Checks {
        only,
        failed: 0,
        passed: 0,
    };
    if let Err(e) = proxy.tars_ping().await {
        println!("FAIL tars_ping: {e}");
        std::process::exit(1);
    }
    match tokio::time::timeout(Duration::from_secs(60), run(&proxy, &mut checks)).await {
        Ok(()) => {}
        Err(_) => checks.report("all", Err("checks did not finish within 60 s".into())),
    }
    println!("{} passed, {} failed", checks.passed, checks.failed);
    std::process::exit(if checks.failed == 0 && checks.passed > 0 {
        0
    } else {
        1
    });
}
