//! `rpc` through the typed proxy: `testHello` from `connections` communicators with
//! `in_flight` tasks each, closed loop or at a fixed rate (open loop).

use crate::args::{fail, Load};
use crate::measure::{gather, join_all_parts, Partial};
use crate::report::Report;
use serde_json::json;
use std::time::{Duration, Instant};
use tars_core::prelude::*;
use tars_rs::demo::quickstart::HelloProxy;

/// A layer that does nothing (`--empty-layers N` measures what the layer hook costs).
struct EmptyLayer;

impl tars_core::client::CallLayer for EmptyLayer {
    fn after(&self, _: &tars_core::client::CallInfo<'_>, _: &tars_core::client::CallOutcome<'_>) {}
}

/// Measures `testHello` through a [`HelloProxy`] per connection to `target` (`OBJ@ENDPOINTS`).
pub async fn rpc_proxy(target: &str, load: Load) -> Report {
    let request = "x".repeat(load.payload);
    let mut proxies = Vec::new();
    for _ in 0..load.connections {
        // One communicator per connection: each has its own connection to the endpoint.
        let comm = Communicator::new();
        for _ in 0..tars_rs::cli::number_flag("empty-layers", 0usize) {
            comm.add_layer(EmptyLayer);
        }
        let proxy: HelloProxy = comm.string_to_proxy(target).unwrap_or_else(|e| fail(e));
        let (_, echoed) = proxy
            .test_hello(&request)
            .await
            .unwrap_or_else(|e| fail(format!("testHello: {e}")));
        if echoed != request {
            fail("testHello did not echo its input");
        }
        proxies.push((comm, proxy));
    }
    let window = load.window();
    let slots = load.connections * load.in_flight;
    let interval = load.rate.map(|r| Duration::from_secs_f64(slots as f64 / r));
    let mut tasks = Vec::new();
    for (k, (_, proxy)) in proxies.iter().enumerate() {
        for j in 0..load.in_flight {
            let (proxy, request) = (proxy.clone(), request.clone());
            // Open loop: the slots' schedules are spread evenly over one interval.
            let offset = interval.map_or(Duration::ZERO, |i| {
                i.mul_f64((j * load.connections + k) as f64 / slots as f64)
            });
            tasks.push(tokio::spawn(async move {
                let mut part = Partial::new();
                let mut intended = window.base + offset;
                loop {
                    let started = match interval {
                        Some(i) => {
                            tokio::time::sleep_until(intended.into()).await;
                            let s = intended;
                            intended += i;
                            s
                        }
                        None => Instant::now(),
                    };
                    if started >= window.end {
                        break;
                    }
                    let result = proxy.test_hello(&request).await;
                    let done = Instant::now();
                    if window.counts(started, done) {
                        match result {
                            Ok((0, rsp)) if rsp.len() == request.len() => {
                                part.record(done - started);
                            }
                            _ => part.errors += 1,
                        }
                    }
                }
                part
            }));
        }
    }
    let parts = join_all_parts(tasks).await;
    let mut report = gather("rpc", window, parts);
    load.describe(&mut report.extra);
    report.extra.insert("client".into(), json!("proxy"));
    report
}
