//! `rpc` through the typed proxy: `testHello` from `connections` communicators with
//! `in_flight` tasks each, closed loop or at a fixed rate (open loop).

use crate::args::{fail, Load};
use crate::measure::{gather, join_all_parts, Partial};
use crate::report::Report;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
    // Open loop: request n (over all connections) is due at `base + n / rate`. A task whose
    // call ended takes the next due request at once; a task with nothing due sleeps until
    // the next due time. So requests go out as the raw client's do (as soon as a slot is
    // free, else at the timer's next tick) and latency counts from the due time.
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (_, proxy) in proxies.iter() {
        for _ in 0..load.in_flight {
            let (proxy, request, next) = (proxy.clone(), request.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut part = Partial::new();
                loop {
                    let started = match load.rate {
                        Some(rate) => {
                            let n = next.load(Ordering::Acquire);
                            let at = window.base + Duration::from_secs_f64(n as f64 / rate);
                            if at >= window.end {
                                break;
                            }
                            if at > Instant::now() {
                                tokio::time::sleep_until(at.into()).await;
                                continue;
                            }
                            if next
                                .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                                .is_err()
                            {
                                continue;
                            }
                            at
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
