//! The few command-line helpers the examples share.

/// The value of `--name VALUE` (or `--name=VALUE`) in the process arguments.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let long = format!("--{name}");
    let prefix = format!("{long}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if *a == long {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&prefix).map(str::to_string)
        }
    })
}

/// Whether `--name` is present.
pub fn switch(name: &str) -> bool {
    let long = format!("--{name}");
    std::env::args().any(|a| a == long)
}

/// The first argument that is neither a flag nor a flag's value.
pub fn positional(flags_with_values: &[&str]) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if let Some(name) = a.strip_prefix("--") {
            if flags_with_values.contains(&name) {
                args.next();
            }
            continue;
        }
        return Some(a);
    }
    None
}

/// Parses a numeric flag, exiting with a message when it is malformed.
pub fn number_flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    match flag(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("--{name}: `{v}` is not a valid number");
            std::process::exit(2)
        }),
    }
}

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Resolves on SIGINT or SIGTERM (`tars_core::server::shutdown_signal`); exits with status 1
/// and a message if the handlers cannot be installed.
pub async fn shutdown_signal() {
    if let Err(e) = tars_core::server::shutdown_signal().await {
        eprintln!("cannot wait for signals: {e}");
        std::process::exit(1);
    }
}

/// Serves until SIGINT or SIGTERM, then shuts `server` down gracefully
/// (`Server::run_until_signal`); exits with status 1 and a message if that fails.
pub async fn serve_until_signal(program: &str, server: tars_core::Server) {
    if let Err(e) = server.run_until_signal().await {
        eprintln!("{program}: {e}");
        std::process::exit(1);
    }
}

/// Starts `builder`, prints `listening tcp -h HOST -p PORT` for the adapter `name` once it
/// accepts connections, and returns the server; exits with status 1 and a message if it
/// cannot start.
pub async fn start_listening(
    program: &str,
    builder: tars_core::server::ServerBuilder,
    name: &str,
) -> tars_core::Server {
    use std::io::Write;
    let server = builder.start().await.unwrap_or_else(|e| {
        eprintln!("{program}: {e}");
        std::process::exit(1)
    });
    let endpoint = server.endpoint(name).expect("adapter bound");
    println!("listening tcp -h {} -p {}", endpoint.host, endpoint.port);
    let _ = std::io::stdout().flush();
    server
}
