//! Serves `Test.HelloServer.HelloObj` (interface `Test.Hello`).
//!
//! ```sh
//! cargo run --release --example hello_server -- --endpoint "tcp -h 127.0.0.1 -p 0 -t 60000"
//! ```
//! Prints `listening tcp -h HOST -p PORT` once it accepts calls; SIGINT/SIGTERM stop it
//! gracefully.

use std::io::Write;
use tars_core::Server;
use tars_rs::cli;
use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};

#[tokio::main]
async fn main() {
    cli::init_logging();
    let endpoint =
        cli::flag("endpoint").unwrap_or_else(|| "tcp -h 127.0.0.1 -p 10015 -t 60000".into());
    let server = match Server::builder()
        .servant(HELLO_OBJ, endpoint, HelloServant::new(HelloImpl::default()))
        .start()
        .await
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("hello_server: {e}");
            std::process::exit(1);
        }
    };
    let ep = server.endpoint(HELLO_OBJ).expect("adapter bound");
    println!("listening tcp -h {} -p {}", ep.host, ep.port);
    let _ = std::io::stdout().flush();
    cli::shutdown_signal().await;
    server.shutdown().await;
}
