//! Serves `Test.HelloServer.HelloObj` (interface `Test.Hello`).
//!
//! ```sh
//! cargo run --release --example hello_server -- --endpoint "tcp -h 127.0.0.1 -p 0 -t 60000"
//! ```
//! Prints `listening tcp -h HOST -p PORT` once it accepts calls; SIGINT/SIGTERM stop it
//! gracefully.

use tars_core::Server;
use tars_rs::cli;
use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};

#[tokio::main]
async fn main() {
    cli::init_logging();
    let endpoint =
        cli::flag("endpoint").unwrap_or_else(|| "tcp -h 127.0.0.1 -p 10015 -t 60000".into());
    let server = cli::start_listening(
        "hello_server",
        Server::builder().servant(HELLO_OBJ, endpoint, HelloServant::new(HelloImpl::default())),
        HELLO_OBJ,
    )
    .await;
    cli::serve_until_signal("hello_server", server).await;
}
