//! TarsCpp's PushClient in Rust: speaks the demo's own framing through a proxy with a custom
//! request encoder and response decoder, sends `heartbeat` with `rpc_call_async` every
//! `--heartbeat-ms`, prints `response id=N body=heartbeat` and `push body=hello world`, and
//! exits 0 after `--count` pushes (1 if they do not come within `--timeout-ms`).
//!
//! ```sh
//! cargo run --release --example push_client -- "TestApp.PushServer.TestPushServantObj@tcp -h 127.0.0.1 -p 9300" --heartbeat-ms 500 --count 5
//! ```

use bytes::Bytes;
use std::io::Write;
use std::time::Duration;
use tars_core::protocol::ResponsePacket;
use tars_core::{Communicator, Endpoint};
use tars_rs::cli;
use tars_rs::demo::raw_push::{DemoRequestEncoder, DemoResponseDecoder};
use tokio::sync::mpsc;

fn print_line(line: String) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

#[tokio::main]
async fn main() {
    cli::init_logging();
    let Some(target) = cli::positional(&["heartbeat-ms", "count", "timeout-ms"]) else {
        eprintln!("usage: push_client \"TestApp.PushServer.TestPushServantObj@tcp -h HOST -p PORT\" [--heartbeat-ms MS] [--count N] [--timeout-ms MS]");
        std::process::exit(2);
    };
    let heartbeat = Duration::from_millis(cli::number_flag("heartbeat-ms", 500u64).max(1));
    let count: usize = cli::number_flag("count", 5);
    let timeout = Duration::from_millis(cli::number_flag("timeout-ms", 60_000u64));
    let proxy = match Communicator::new().servant_proxy(&target) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("push_client: {e}");
            std::process::exit(2);
        }
    };
    proxy.set_request_encoder(DemoRequestEncoder);
    proxy.set_response_decoder(DemoResponseDecoder);
    let (pushed, mut pushes) = mpsc::unbounded_channel();
    proxy.set_push_callback(move |_: &Endpoint, push: ResponsePacket| {
        print_line(format!(
            "push body={}",
            String::from_utf8_lossy(&push.buffer)
        ));
        let _ = pushed.send(());
    });

    let heartbeats = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(heartbeat);
            loop {
                ticker.tick().await;
                let id = proxy.gen_request_id();
                proxy.rpc_call_async(
                    id,
                    "heartbeat",
                    Bytes::from_static(b"heartbeat"),
                    move |result| match result {
                        Ok(r) => print_line(format!(
                            "response id={} body={}",
                            r.request_id,
                            String::from_utf8_lossy(&r.buffer)
                        )),
                        Err(e) => eprintln!("heartbeat {id} failed: {e}"),
                    },
                );
            }
        })
    };
    let received = tokio::time::timeout(timeout, async {
        for _ in 0..count {
            if pushes.recv().await.is_none() {
                break;
            }
        }
    })
    .await;
    heartbeats.abort();
    if received.is_err() {
        eprintln!("push_client: fewer than {count} pushes within {timeout:?}");
        std::process::exit(1);
    }
}
