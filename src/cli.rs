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

/// A communicator for the client examples: with `--locator LOCATOR`
/// (`tars.tarsregistry.QueryObj@tcp -h H -p P`), an object name without `@` is looked up in
/// that registry; without it, the default communicator (proxy strings need `@endpoints`).
pub fn communicator() -> tars_core::client::Communicator {
    use tars_core::client::{ClientConfig, Communicator};
    match flag("locator") {
        Some(locator) => Communicator::with_config(ClientConfig {
            locator: Some(locator),
            ..ClientConfig::default()
        }),
        None => Communicator::new(),
    }
}

/// `target` as `Obj@endpoints`: unchanged when it has `@`, else looked up once in the
/// registry of `--locator` (`findObjectByIdInSameGroup`). Exits with status 2 and a message
/// when that fails.
pub async fn resolve_target(program: &str, target: &str) -> String {
    if target.contains('@') {
        return target.to_string();
    }
    let comm = communicator();
    let Some(resolver) = comm.resolver() else {
        eprintln!("{program}: `{target}` has no `@endpoints` and no --locator was given");
        std::process::exit(2);
    };
    let scope = tars_core::client::ResolveScope::SameGroup;
    match resolver.resolve(target, &scope).await {
        Ok(found) if !found.active.is_empty() => {
            let eps: Vec<String> = found.active.iter().map(|e| e.to_string()).collect();
            format!("{target}@{}", eps.join(":"))
        }
        Ok(_) => {
            eprintln!("{program}: the registry lists no active endpoint of {target}");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("{program}: looking up {target}: {e}");
            std::process::exit(2);
        }
    }
}
