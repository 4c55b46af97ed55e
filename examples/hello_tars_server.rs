//! `Test.HelloServer.HelloObj` (interface `Test.Hello`, as `hello_server`) run the way a TARS
//! deployment runs a server: only from the config file tarsnode writes.
//!
//! ```sh
//! hello_tars_server --config=conf/Test.HelloServer.config.conf
//! ```
//! Binds the adapters of the config, AdminObj on `local`, heartbeats to `node`, logs under
//! `logpath`; prints `listening tcp -h HOST -p PORT` for HelloObj once it accepts calls. Stops
//! gracefully (exit status 0) on `AdminObj.shutdown`, SIGTERM or ctrl-c. See docs/deploy.md.

use std::io::Write;
use tars_core::app::Application;
use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};

#[tokio::main]
async fn main() {
    let app = match Application::from_args() {
        Ok(Some(app)) => app,
        Ok(None) => {
            eprintln!("usage: hello_tars_server --config=FILE (the server config tarsnode writes)");
            std::process::exit(2)
        }
        Err(e) => {
            eprintln!("hello_tars_server: {e}");
            std::process::exit(1)
        }
    };
    let running = app
        .servant(HELLO_OBJ, HelloServant::new(HelloImpl::default()))
        .command("hello.ping", |params| {
            // An application log line: with `log` set it also goes to tarslog.
            tracing::info!("hello.ping {params}");
            Ok(format!("pong {params}"))
        })
        .start(async { Ok::<(), String>(()) })
        .await
        .unwrap_or_else(|e| {
            eprintln!("hello_tars_server: {e}");
            std::process::exit(1)
        });
    if let Some(endpoint) = running.endpoint(HELLO_OBJ) {
        println!("listening tcp -h {} -p {}", endpoint.host, endpoint.port);
        let _ = std::io::stdout().flush();
    }
    if let Err(e) = running.wait().await {
        eprintln!("hello_tars_server: {e}");
        std::process::exit(1)
    }
}
