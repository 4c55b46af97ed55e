//! TarsCpp's PushCallbackClient in Rust: sets the push callback, calls `registerPush` (again
//! after every reconnect), prints `push ret=0 sRsp=push message` per push and exits 0 after
//! `--count` pushes (1 if they do not come within `--timeout-ms`).
//!
//! ```sh
//! cargo run --release --example push_callback_client -- "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p 9316" --count 10
//! ```
//! `--all-endpoints` subscribes on every endpoint of the proxy string. With
//! `--locator "tars.tarsregistry.QueryObj@tcp -h H -p P"` the target may be an object name
//! (`TestApp.PushCallbackServer.PushObj`), looked up in that registry; with
//! `--all-endpoints` the subscription then follows every instance the registry lists.
//!
//! Its interfaces come from `tars/PushCallback.tars`, compiled by `build.rs` with tars-build
//! (`TestApp.Push` as a push interface); `push_callback_server` uses the hand-written
//! `src/demo/push_callback.rs`, so the two programs talking prove both give the same bytes.

use std::io::Write;
use std::time::Duration;
use tars_core::client::SubscribeOptions;
use tars_core::prelude::*;
use tars_rs::cli;
use tars_rs::generated::push_callback::test_app::{HelloProxy, PushPrxCallback, PushPrxDispatcher};
use tokio::sync::mpsc;

/// Prints each push and counts it.
struct Printer {
    seen: mpsc::UnboundedSender<()>,
}

impl PushPrxCallback for Printer {
    fn callback_push_msg(&self, ret: i32, s_rsp: String) {
        println!("push ret={ret} sRsp={s_rsp}");
        let _ = std::io::stdout().flush();
        let _ = self.seen.send(());
    }

    fn callback_push_msg_exception(&self, code: i32) {
        eprintln!("push exception: return code {code}");
    }

    fn on_connect(&self, endpoint: &Endpoint) {
        tracing::info!(%endpoint, "connected");
    }

    fn on_close(&self, endpoint: &Endpoint) {
        tracing::info!(%endpoint, "connection closed, will reconnect");
    }
}

#[tokio::main]
async fn main() {
    cli::init_logging();
    let Some(target) = cli::positional(&["count", "timeout-ms", "locator"]) else {
        eprintln!("usage: push_callback_client \"TestApp.PushCallbackServer.PushObj@tcp -h HOST -p PORT\" [--count N] [--timeout-ms MS] [--all-endpoints] [--locator LOCATOR]");
        std::process::exit(2);
    };
    let count: usize = cli::number_flag("count", 10);
    let timeout = Duration::from_millis(cli::number_flag("timeout-ms", 60_000u64));
    let comm = cli::communicator();
    let proxy: HelloProxy = match comm.string_to_proxy(&target) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("push_callback_client: {e}");
            std::process::exit(2);
        }
    };
    let (seen, mut pushes) = mpsc::unbounded_channel();
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(Printer { seen }));
    let options = SubscribeOptions {
        all_endpoints: cli::switch("all-endpoints"),
        ..SubscribeOptions::default()
    };
    let _subscription = proxy
        .servant_proxy()
        .subscribe(options, |pinned| async move {
            let ret = HelloProxy::from_servant_proxy(pinned)
                .register_push()
                .await?;
            tracing::info!(ret, "registerPush answered");
            Ok(ret)
        });
    let received = tokio::time::timeout(timeout, async {
        for _ in 0..count {
            if pushes.recv().await.is_none() {
                break;
            }
        }
    })
    .await;
    if received.is_err() {
        eprintln!("push_callback_client: fewer than {count} pushes within {timeout:?}");
        std::process::exit(1);
    }
}
