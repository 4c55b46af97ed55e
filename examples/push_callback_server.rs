//! TarsCpp's PushCallbackServer in Rust: serves `TestApp.PushCallbackServer.PushObj`; every
//! `--interval-ms` it pushes `pushMsg(0, "push message")` to every connection that called
//! `registerPush`.
//!
//! ```sh
//! cargo run --release --example push_callback_server -- --endpoint "tcp -h 127.0.0.1 -p 9316 -t 60000" --interval-ms 1000
//! ```
//! Prints `listening tcp -h HOST -p PORT` when ready; logs registrations and closes (set
//! `RUST_LOG=info`); SIGINT/SIGTERM shut it down gracefully (clients are told to reconnect).

use std::time::Duration;
use tars_core::Server;
use tars_rs::cli;
use tars_rs::demo::push_callback::{HelloServant, PushServer, PUSH_OBJ};

#[tokio::main]
async fn main() {
    cli::init_logging();
    let endpoint =
        cli::flag("endpoint").unwrap_or_else(|| "tcp -h 127.0.0.1 -p 9316 -t 60000".into());
    let interval = Duration::from_millis(cli::number_flag("interval-ms", 1000u64).max(1));
    let servant = PushServer::default();
    let server = cli::start_listening(
        "push_callback_server",
        Server::builder().servant(PUSH_OBJ, endpoint, HelloServant::new(servant.clone())),
        PUSH_OBJ,
    )
    .await;
    let pusher = servant.start_pushing(interval);
    cli::serve_until_signal("push_callback_server", server).await;
    pusher.abort();
}
