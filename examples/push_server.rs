//! TarsCpp's PushServer in Rust: a third-party protocol
//! (`[u32 BE length][u32 BE request id][payload]`) served on
//! `TestApp.PushServer.TestPushServantObj`. Echoes every request frame; every
//! `--push-interval-ms` pushes `hello world` with request id 0 to every client.
//!
//! ```sh
//! cargo run --release --example push_server -- --endpoint "tcp -h 127.0.0.1 -p 9300 -t 60000" --push-interval-ms 1000
//! ```

use std::io::Write;
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
    let server = match Server::builder()
        .raw_servant(RAW_PUSH_OBJ, endpoint, framing(), servant.clone())
        .start()
        .await
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("push_server: {e}");
            std::process::exit(1);
        }
    };
    let ep = server.endpoint(RAW_PUSH_OBJ).expect("adapter bound");
    println!("listening tcp -h {} -p {}", ep.host, ep.port);
    let _ = std::io::stdout().flush();
    let pusher = servant.start_pushing(interval);
    cli::shutdown_signal().await;
    pusher.abort();
    server.shutdown().await;
}
