//! The main demo: a push-callback server and a client in one process on 127.0.0.1. The
//! client subscribes (`registerPush`, renewed on every reconnect), the server pushes
//! `pushMsg(0, "push message")` every `--interval-ms`, the client prints each push and
//! both stop after `--count` pushes.
//!
//! ```sh
//! cargo run --release --example push_demo
//! ```

use std::io::Write;
use std::time::Duration;
use tars_core::client::SubscribeOptions;
use tars_core::prelude::*;
use tars_rs::cli;
use tars_rs::demo::push_callback::{
    HelloProxy, HelloServant, PushPrxCallback, PushPrxDispatcher, PushServer, PUSH_OBJ,
};
use tokio::sync::mpsc;

struct Printer(mpsc::UnboundedSender<()>);

impl PushPrxCallback for Printer {
    fn callback_push_msg(&self, ret: i32, s_rsp: String) {
        println!("push ret={ret} sRsp={s_rsp}");
        let _ = std::io::stdout().flush();
        let _ = self.0.send(());
    }
}

#[tokio::main]
async fn main() -> TarsResult<()> {
    cli::init_logging();
    let count: usize = cli::number_flag("count", 5);
    let interval = Duration::from_millis(cli::number_flag("interval-ms", 500u64).max(1));

    let servant = PushServer::default();
    let server = Server::builder()
        .servant(
            PUSH_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(servant.clone()),
        )
        .start()
        .await?;
    let endpoint = server.endpoint(PUSH_OBJ).expect("bound").clone();
    println!("listening tcp -h {} -p {}", endpoint.host, endpoint.port);
    let pusher = servant.start_pushing(interval);

    let proxy: HelloProxy =
        Communicator::new().string_to_proxy(&format!("{PUSH_OBJ}@{endpoint}"))?;
    let (seen, mut pushes) = mpsc::unbounded_channel();
    proxy
        .servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(Printer(seen)));
    let subscription = proxy
        .servant_proxy()
        .subscribe(SubscribeOptions::default(), |pinned| async move {
            HelloProxy::from_servant_proxy(pinned).register_push().await
        });
    let got_all = tokio::time::timeout(interval * (count as u32 + 10), async {
        for _ in 0..count {
            pushes.recv().await;
        }
    })
    .await;
    subscription.cancel();
    pusher.abort();
    server.shutdown().await;
    if got_all.is_err() {
        eprintln!("push_demo: fewer than {count} pushes arrived");
        std::process::exit(1);
    }
    println!("done: {count} pushes received");
    Ok(())
}
