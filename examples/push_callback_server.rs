//! TarsCpp's PushCallbackServer in Rust: serves `TestApp.PushCallbackServer.PushObj`; every
//! `--interval-ms` it pushes `pushMsg(0, "push message")` to every connection that called
//! `registerPush`.
//!
//! ```sh
//! cargo run --release --example push_callback_server -- --endpoint "tcp -h 127.0.0.1 -p 9316 -t 60000" --interval-ms 1000
//! ```
//! Prints `listening tcp -h HOST -p PORT` when ready; logs registrations and closes (set
//! `RUST_LOG=info`); SIGINT/SIGTERM shut it down gracefully (clients are told to reconnect).

use std::io::Write;
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
    let server = match Server::builder()
        .servant(PUSH_OBJ, endpoint, HelloServant::new(servant.clone()))
        .start()
        .await
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("push_callback_server: {e}");
            std::process::exit(1);
        }
    };
    let ep = server.endpoint(PUSH_OBJ).expect("adapter bound");
    println!("listening tcp -h {} -p {}", ep.host, ep.port);
    let _ = std::io::stdout().flush();
    let pusher = servant.start_pushing(interval);
    cli::shutdown_signal().await;
    pusher.abort();
    server.shutdown().await;
}
