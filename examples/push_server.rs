//! TarsCpp's PushServer in Rust: a third-party protocol
//! (`[u32 BE length][u32 BE request id][payload]`) served on
//! `TestApp.PushServer.TestPushServantObj`. Echoes every request frame; every
//! `--push-interval-ms` pushes `hello world` with request id 0 to every client.
//!
//! ```sh
//! cargo run --release --example push_server -- --endpoint "tcp -h 127.0.0.1 -p 9300 -t 60000" --push-interval-ms 1000
//! ```

use std::time::Duration;
use tars_core::Server;
use tars_rs::cli;
use tars_rs::demo::raw_push::{framing, RawPushServer, RAW_PUSH_OBJ};

#[tokio::main]
async fn main() {
    cli::init_logging();
    let endpoint =
        cli::flag("endpoint").unwrap_or_else(|| "tcp -h 127.0.0.1 -p 9300 -t 60000".into());
    let interval = Duration::from_millis(cli::number_flag("push-interval-ms", 1000u64).max(1));
    let servant = RawPushServer::default();
    let server = cli::start_listening(
        "push_server",
        Server::builder().raw_servant(RAW_PUSH_OBJ, endpoint, framing(), servant.clone()),
        RAW_PUSH_OBJ,
    )
    .await;
    let pusher = servant.start_pushing(interval);
    cli::serve_until_signal("push_server", server).await;
    pusher.abort();
}
