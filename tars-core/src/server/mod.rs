//! The TARS server: adapters (an endpoint and what serves it), their connections, the
//! [`Current`] handle, the [`CurrentRegistry`] of push servers and graceful shutdown.
//!
//! ```no_run
//! # async fn run(servant: impl tars_core::server::Servant) -> tars_core::TarsResult<()> {
//! use tars_core::server::Server;
//! let server = Server::builder()
//!     .servant("Test.HelloServer.HelloObj", "tcp -h 127.0.0.1 -p 0 -t 60000", servant)
//!     .start()
//!     .await?;
//! println!("listening {}", server.endpoint("Test.HelloServer.HelloObj").unwrap());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod connection;
mod current;
mod raw;
mod registry;
mod servant;

pub use current::{push_frame, CloseReason, Current};
pub use raw::{PacketParser, Parsed, RawServant};
pub use registry::{BroadcastReport, CurrentRegistry};
pub use servant::{BoxFuture, Servant};

pub(crate) use connection::{run_connection, ConnectionProtocol};
pub(crate) use current::Connection;

use crate::endpoint::{Endpoint, Transport};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{LengthPrefix, DEFAULT_MAX_FRAME_LEN, MAX_FRAME_LEN_LIMIT};
use servant::TarsAdapter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// Limits and timeouts of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request frame accepted, header included (default 10 MiB, at most 100 MiB).
    /// A larger length closes the connection.
    pub max_frame_len: usize,
    /// Requests of one connection running at once; more are answered -9 (overload).
    pub max_in_flight_per_connection: u32,
    /// Requests of the whole server running at once; more are answered -9 (overload).
    pub max_in_flight: usize,
    /// Frames (responses and pushes) queued per connection before the slow-consumer policy
    /// closes it.
    pub outbound_queue_frames: usize,
    /// Connections served at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for in-flight requests before closing anyway.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_in_flight_per_connection: 1024,
            max_in_flight: 64 * 1024,
            outbound_queue_frames: 4096,
            max_connections: 1 << 20,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Starts the accept loop of a raw adapter once its listener is bound.
type RawStarter = Box<dyn FnOnce(TcpListener, Arc<str>, Arc<Shared>, Option<Duration>) + Send>;

/// How an adapter's connections are served.
enum AdapterKind {
    Tars(Arc<dyn Servant>),
    Raw(RawStarter),
}

struct AdapterSpec {
    name: String,
    endpoint: String,
    kind: AdapterKind,
}

/// Collects adapters and settings; [`ServerBuilder::start`] binds and serves them.
pub struct ServerBuilder {
    config: ServerConfig,
    adapters: Vec<AdapterSpec>,
}

impl ServerBuilder {
    /// Replaces the configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Serves the TARS servant `name` (`App.Server.Obj`) on `endpoint`
    /// (`tcp -h H -p P -t T`; `-p 0` picks a free port, `-t` is the idle timeout in ms).
    pub fn servant(
        mut self,
        name: impl Into<String>,
        endpoint: impl Into<String>,
        servant: impl Servant,
    ) -> Self {
        self.adapters.push(AdapterSpec {
            name: name.into(),
            endpoint: endpoint.into(),
            kind: AdapterKind::Tars(Arc::new(servant)),
        });
        self
    }

    /// Serves a third-party protocol on `endpoint`: `parser` splits each connection's input
    /// into packets and `servant` handles them (TarsCpp: a non-`tars` adapter with
    /// `addServantProtocol`). `name` identifies the adapter ([`Server::endpoint`]).
    pub fn raw_servant<P: PacketParser, S: RawServant>(
        mut self,
        name: impl Into<String>,
        endpoint: impl Into<String>,
        parser: P,
        servant: S,
    ) -> Self {
        let adapter = Arc::new(raw::RawAdapter {
            parser,
            servant: Arc::new(servant),
        });
        let start: RawStarter = Box::new(move |listener, name, shared, idle| {
            let tracker = shared.tracker.clone();
            tracker.spawn(accept_loop(listener, name, adapter, shared, idle));
        });
        self.adapters.push(AdapterSpec {
            name: name.into(),
            endpoint: endpoint.into(),
            kind: AdapterKind::Raw(start),
        });
        self
    }

    /// Binds every adapter's endpoint and starts serving. Fails if an endpoint does not
    /// parse or cannot be bound.
    pub async fn start(self) -> TarsResult<Server> {
        let config = Arc::new(self.config);
        if config.max_frame_len > MAX_FRAME_LEN_LIMIT || config.max_frame_len < 5 {
            return Err(TarsError::Invalid(format!(
                "max_frame_len must be between 5 and {MAX_FRAME_LEN_LIMIT}"
            )));
        }
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let shared = Arc::new(Shared {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config: config.clone(),
            shutdown: shutdown.clone(),
            force_close: CancellationToken::new(),
            tracker: tracker.clone(),
        });
        let mut bound = Vec::new();
        let mut listeners = Vec::new();
        for spec in self.adapters {
            let mut endpoint: Endpoint = spec.endpoint.parse()?;
            if endpoint.protocol != Transport::Tcp {
                return Err(TarsError::InvalidEndpoint(format!(
                    "`{}`: only tcp endpoints are served",
                    spec.endpoint
                )));
            }
            let listener = TcpListener::bind(endpoint.socket_addr_string())
                .await
                .map_err(|e| TarsError::Io(format!("cannot bind `{}`: {e}", spec.endpoint)))?;
            endpoint.port = listener.local_addr()?.port();
            info!(servant = %spec.name, %endpoint, "listening");
            bound.push((spec.name.clone(), endpoint.clone()));
            listeners.push((spec, endpoint, listener));
        }
        for (spec, endpoint, listener) in listeners {
            let idle =
                (endpoint.timeout_ms > 0).then(|| Duration::from_millis(endpoint.timeout_ms));
            let name: Arc<str> = spec.name.into();
            match spec.kind {
                AdapterKind::Tars(servant) => {
                    let adapter = Arc::new(TarsAdapter {
                        servant_name: name.clone(),
                        servant,
                        framing: LengthPrefix::tars(config.max_frame_len),
                        server_in_flight: shared.in_flight.clone(),
                    });
                    tracker.spawn(accept_loop(listener, name, adapter, shared.clone(), idle));
                }
                AdapterKind::Raw(start) => start(listener, name, shared.clone(), idle),
            }
        }
        Ok(Server {
            endpoints: bound,
            shared,
        })
    }
}

struct Shared {
    config: Arc<ServerConfig>,
    in_flight: Arc<Semaphore>,
    connections: Arc<Semaphore>,
    shutdown: CancellationToken,
    /// Cancelled when a graceful shutdown ran out of time: connections close at once.
    force_close: CancellationToken,
    tracker: TaskTracker,
}

/// Ids of connections, unique in the process.
static NEXT_UID: AtomicU64 = AtomicU64::new(1);

async fn accept_loop<P: ConnectionProtocol>(
    listener: TcpListener,
    name: Arc<str>,
    protocol: Arc<P>,
    shared: Arc<Shared>,
    idle: Option<Duration>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                warn!(servant = %name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            warn!(servant = %name, %peer, "too many connections, refusing");
            continue;
        };
        let local = stream.local_addr().unwrap_or(peer);
        let (tx, rx) = mpsc::channel(shared.config.outbound_queue_frames);
        let uid = NEXT_UID.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Connection::new(
            uid,
            peer,
            local,
            name.clone(),
            tx,
            shared.config.max_in_flight_per_connection,
        ));
        let (shutdown, force_close) = (shared.shutdown.clone(), shared.force_close.clone());
        let protocol = protocol.clone();
        shared.tracker.spawn(async move {
            run_connection(stream, conn, rx, protocol, shutdown, force_close, idle).await;
            drop(permit);
        });
    }
}

/// A running server.
pub struct Server {
    endpoints: Vec<(String, Endpoint)>,
    shared: Arc<Shared>,
}

impl Server {
    /// Starts building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServerConfig::default(),
            adapters: Vec::new(),
        }
    }

    /// The bound endpoint of the adapter `name`, with the real port.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
    }

    /// Every adapter's name and bound endpoint.
    pub fn endpoints(&self) -> &[(String, Endpoint)] {
        &self.endpoints
    }

    /// Graceful shutdown: stops accepting, tells TARS clients to reconnect elsewhere
    /// (`_reconnect_`), lets in-flight requests finish and their responses go out, then
    /// closes every connection. Gives up waiting after `shutdown_timeout`.
    pub async fn shutdown(self) {
        let shared = self.shared;
        shared.shutdown.cancel();
        shared.tracker.close();
        if tokio::time::timeout(shared.config.shutdown_timeout, shared.tracker.wait())
            .await
            .is_err()
        {
            warn!("graceful shutdown timed out; closing the remaining connections");
            shared.force_close.cancel();
            shared.tracker.wait().await;
        }
    }

    /// Resolves when ctrl-c is pressed, then shuts down gracefully.
    pub async fn run_until_ctrl_c(self) -> TarsResult<()> {
        tokio::signal::ctrl_c().await?;
        self.shutdown().await;
        Ok(())
    }
}
