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
mod fanout;
mod gate;
mod handshake;
mod layer;
mod limit;
mod raw;
mod registry;
mod servant;
mod stat;
mod sweep;

pub use current::{push_frame, CloseReason, Current};
pub use gate::{AdapterOptions, AdapterState};
pub use layer::ServantLayer;
pub use raw::{PacketParser, Parsed, RawServant};
pub use registry::{BroadcastReport, CurrentRegistry};
pub use servant::{BoxFuture, Servant};
pub use stat::{ServerStatLayer, STAT_FROM_SERVER};

pub(crate) use connection::{run_connection, ConnectionProtocol, Driving};
pub(crate) use current::Connection;
use handshake::Setup;

use crate::endpoint::{Endpoint, Transport};
use crate::error::{TarsError, TarsResult};
use crate::protocol::{LengthPrefix, DEFAULT_MAX_FRAME_LEN, MAX_FRAME_LEN_LIMIT};
use servant::TarsAdapter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// Limits and timeouts of a server (the table in `docs/architecture.md` lists them all).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest frame, header included (default 10 MiB, at most 100 MiB). A request with a
    /// larger length closes the connection; a larger response is answered -2
    /// (`SERVER_ENCODE_ERR`) instead, and a larger push is refused with
    /// [`TarsError::FrameTooLarge`].
    pub max_frame_len: usize,
    /// Requests of one connection running at once; more are answered -9 (overload).
    pub max_in_flight_per_connection: u32,
    /// Requests of the whole server running at once; more are answered -9 (overload).
    pub max_in_flight: usize,
    /// Server-wide budget of buffered request bytes: requests read and not yet answered.
    /// A request that does not fit is answered -9 at once (default 256 MiB).
    pub max_request_bytes: usize,
    /// Bytes (responses and pushes) waiting to be written on one connection before a push
    /// closes it under the slow-consumer policy (default 4 MiB).
    pub outbound_queue_bytes: usize,
    /// Unwritten bytes on one connection past which its new requests are answered -9 at once
    /// (a peer that sends requests but does not read the answers); past twice this the
    /// connection is closed as a slow consumer (default 128 MiB).
    pub response_queue_bytes: usize,
    /// A write that makes no progress this long closes the connection with
    /// [`CloseReason::WriteStalled`] (logged at warn; default 10 s).
    pub write_stall_timeout: Duration,
    /// Longest a request may wait between being read and its handler starting (TarsCpp's
    /// adapter `queuetimeout`, default 60 s); the caller's own `iTimeout` applies too. A
    /// request that waited longer is answered -6 and not run.
    pub queue_timeout: Duration,
    /// Connections served at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for in-flight requests before closing anyway.
    pub shutdown_timeout: Duration,
    /// Longest a new connection's TLS handshake, and separately its AK/SK exchange, may
    /// take (default 10 s); past it the connection is closed.
    pub handshake_timeout: Duration,
    /// TLS of every `ssl` endpoint whose adapter sets none ([`AdapterOptions::tls`]).
    pub tls: Option<crate::tls::ServerTls>,
    /// The AK/SK key of every `-e 1` endpoint whose adapter sets none
    /// ([`AdapterOptions::auth`]). With neither, every auth request is refused.
    pub auth: Option<crate::auth::AuthKey>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_in_flight_per_connection: 1024,
            max_in_flight: 64 * 1024,
            max_request_bytes: 256 * 1024 * 1024,
            outbound_queue_bytes: 4 * 1024 * 1024,
            response_queue_bytes: 128 * 1024 * 1024,
            write_stall_timeout: Duration::from_secs(10),
            queue_timeout: Duration::from_secs(60),
            max_connections: 1 << 20,
            shutdown_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            tls: None,
            auth: None,
        }
    }
}

/// Starts the accept loop of a raw adapter once its listener is bound.
type RawStarter = Box<
    dyn FnOnce(TcpListener, Arc<str>, Arc<Shared>, Option<Duration>, Arc<gate::Gate>, Setup) + Send,
>;

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
    options: std::collections::HashMap<String, AdapterOptions>,
    layers: Vec<Arc<dyn ServantLayer>>,
}

impl ServerBuilder {
    /// Adds a layer around every TARS servant call of this server (after those added
    /// before it). Without layers servants are called directly.
    pub fn layer(mut self, layer: impl ServantLayer) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the per-adapter limits of the adapter `name` (allow-list, connection cap).
    pub fn adapter_options(mut self, name: impl Into<String>, options: AdapterOptions) -> Self {
        self.options.insert(name.into(), options);
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
        let start: RawStarter = Box::new(move |listener, name, shared, idle, gate, setup| {
            let tracker = shared.tracker.clone();
            tracker.spawn(accept_loop(
                listener, name, adapter, shared, idle, gate, setup,
            ));
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
            state: limit::ServerState::new(config.max_in_flight, config.max_request_bytes),
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config: config.clone(),
            shutdown: shutdown.clone(),
            force_close: CancellationToken::new(),
            tracker: tracker.clone(),
        });
        let mut bound = Vec::new();
        let mut listeners = Vec::new();
        let mut options = self.options;
        let layers: Arc<[Arc<dyn ServantLayer>]> = self.layers.into();
        let mut gates = Vec::new();
        for spec in self.adapters {
            let mut endpoint: Endpoint = spec.endpoint.parse()?;
            if endpoint.protocol == Transport::Udp {
                return Err(TarsError::InvalidEndpoint(format!(
                    "`{}`: only tcp and ssl endpoints are served",
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
            let adapter_options = options.remove(&spec.name).unwrap_or_default();
            let setup = setup_of(&spec, &endpoint, &adapter_options, &config)?;
            let gate = gate::Gate::new(adapter_options);
            gates.push((spec.name.clone(), gate.clone()));
            let name: Arc<str> = spec.name.into();
            match spec.kind {
                AdapterKind::Tars(servant) => {
                    let servant: Arc<dyn Servant> = if layers.is_empty() {
                        servant
                    } else {
                        Arc::new(layer::Layered {
                            inner: servant,
                            layers: layers.clone(),
                        })
                    };
                    let adapter = Arc::new(TarsAdapter {
                        servant_name: name.clone(),
                        servant,
                        framing: LengthPrefix::tars(config.max_frame_len),
                        queue_timeout: config.queue_timeout,
                    });
                    tracker.spawn(accept_loop(
                        listener,
                        name,
                        adapter,
                        shared.clone(),
                        idle,
                        gate,
                        setup,
                    ));
                }
                AdapterKind::Raw(start) => start(listener, name, shared.clone(), idle, gate, setup),
            }
        }
        Ok(Server {
            endpoints: bound,
            gates,
            shared,
        })
    }
}

/// What connections of the adapter `spec` go through before they are served.
fn setup_of(
    spec: &AdapterSpec,
    endpoint: &Endpoint,
    options: &AdapterOptions,
    config: &ServerConfig,
) -> TarsResult<Setup> {
    let tls = match endpoint.protocol {
        Transport::Ssl => Some(
            options
                .tls
                .clone()
                .or_else(|| config.tls.clone())
                .ok_or_else(|| {
                    TarsError::Invalid(format!(
                        "`{}` of `{}` is an ssl endpoint: set its TLS certificate and key \
                         (AdapterOptions::tls or ServerConfig::tls)",
                        spec.endpoint, spec.name
                    ))
                })?,
        ),
        _ => None,
    };
    let auth = if endpoint.auth {
        if matches!(spec.kind, AdapterKind::Raw(_)) {
            return Err(TarsError::Invalid(format!(
                "`{}` of `{}`: `-e 1` authentication is for TARS adapters only",
                spec.endpoint, spec.name
            )));
        }
        let key = options.auth.clone().or_else(|| config.auth.clone());
        if key.is_none() {
            warn!(servant = %spec.name, "`-e 1` endpoint without an access key: every connection will be refused");
        }
        Some((Arc::<str>::from(spec.name.as_str()), key))
    } else {
        None
    };
    Ok(Setup {
        tls,
        auth,
        timeout: config.handshake_timeout,
        max_frame_len: config.max_frame_len,
    })
}

struct Shared {
    config: Arc<ServerConfig>,
    state: Arc<limit::ServerState>,
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
    gate: Arc<gate::Gate>,
    setup: Setup,
) {
    let _accepting = gate.accepting();
    // Shared by every connection of the adapter: a connection's task holds two pointers, not
    // copies (its future is most of the memory an idle connection costs).
    let setup = Arc::new(setup);
    let driving = Arc::new(Driving {
        shutdown: shared.shutdown.clone(),
        force_close: shared.force_close.clone(),
        idle_timeout: idle,
        write_stall_timeout: shared.config.write_stall_timeout,
        sweep: sweep::Sweep::new(),
    });
    sweep::spawn(&shared.tracker, &driving, protocol.clone());
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
        let admitted = match gate.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(why) => {
                warn!(servant = %name, %peer, "refusing: {why}");
                continue;
            }
        };
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            warn!(servant = %name, %peer, "too many connections, refusing");
            continue;
        };
        let local = stream.local_addr().unwrap_or(peer);
        let uid = NEXT_UID.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Connection::new(
            uid,
            peer,
            local,
            name.clone(),
            current::ConnLimits::from_config(&shared.config),
            shared.state.clone(),
            shared.force_close.child_token(),
        ));
        let run = run_connection(
            stream,
            conn,
            protocol.clone(),
            driving.clone(),
            setup.clone(),
            connection::Slots {
                _server: permit,
                _adapter: admitted,
            },
        );
        shared.tracker.spawn(run);
    }
}

/// A running server.
pub struct Server {
    endpoints: Vec<(String, Endpoint)>,
    gates: Vec<(String, Arc<gate::Gate>)>,
    shared: Arc<Shared>,
}

impl Server {
    /// Starts building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServerConfig::default(),
            adapters: Vec::new(),
            options: Default::default(),
            layers: Vec::new(),
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

    /// Panics caught in user code so far: servant methods (answered -99), raw
    /// `do_request`s, `PacketParser::parse` (closes that connection), close hooks and
    /// `do_close`. Each is also logged at error level; the server keeps serving.
    pub fn panics(&self) -> u64 {
        self.shared.state.panics.load(Ordering::Relaxed)
    }

    /// Whether the adapter `name` is accepting, and its open connections.
    pub fn adapter_state(&self, name: &str) -> Option<AdapterState> {
        self.gates
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, g)| g.state())
    }

    /// Graceful shutdown: stops accepting, tells TARS clients to reconnect elsewhere
    /// (`_reconnect_`, queued on every TARS connection), and keeps reading: requests that
    /// still arrive are answered as usual. A connection closes once its requests are
    /// answered and written and its peer has closed or sent nothing for a moment (100 ms).
    /// Connections still open after `shutdown_timeout` are closed by force.
    pub async fn shutdown(self) {
        let shared = self.shared;
        shared.shutdown.cancel();
        shared.tracker.close();
        if tokio::time::timeout(shared.config.shutdown_timeout, shared.tracker.wait())
            .await
            .is_err()
        {
            warn!("graceful shutdown timed out; closing the remaining connections");
            shared.state.force_closed.store(true, Ordering::Release);
            shared.force_close.cancel();
            shared.tracker.wait().await;
        }
    }

    /// Resolves on ctrl-c or (on unix) SIGTERM, after a graceful [`shutdown`](Self::shutdown).
    pub async fn run_until_signal(self) -> TarsResult<()> {
        shutdown_signal().await?;
        self.shutdown().await;
        Ok(())
    }

    /// The same as [`run_until_signal`](Self::run_until_signal): kept for existing programs
    /// (it also ends on SIGTERM).
    pub async fn run_until_ctrl_c(self) -> TarsResult<()> {
        self.run_until_signal().await
    }
}

/// Resolves on ctrl-c (SIGINT) or, on unix, SIGTERM: what a server waits for before it shuts
/// down gracefully. Fails if the signal handlers cannot be installed.
pub async fn shutdown_signal() -> TarsResult<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Serves one connection of `servant` (named `name`) over any byte stream, with `config`'s
/// limits, until the stream closes; returns why it closed. The whole receive path runs
/// (framing, decoding, admission, dispatch, replies), as on an accepted TCP connection but
/// without TLS, auth or an idle timeout. For fuzzing and in-memory tests.
#[doc(hidden)]
pub async fn serve_io<S>(
    servant: impl Servant,
    name: &str,
    stream: S,
    config: ServerConfig,
) -> CloseReason
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send,
{
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let name: Arc<str> = name.into();
    let conn = Arc::new(Connection::new(
        NEXT_UID.fetch_add(1, Ordering::Relaxed),
        addr,
        addr,
        name.clone(),
        current::ConnLimits::from_config(&config),
        limit::ServerState::new(config.max_in_flight, config.max_request_bytes),
        CancellationToken::new(),
    ));
    let adapter = TarsAdapter {
        servant_name: name,
        servant: Arc::new(servant),
        framing: LengthPrefix::tars(config.max_frame_len),
        queue_timeout: config.queue_timeout,
    };
    let driving = Driving {
        shutdown: CancellationToken::new(),
        force_close: CancellationToken::new(),
        idle_timeout: None,
        write_stall_timeout: config.write_stall_timeout,
        sweep: sweep::Sweep::new(),
    };
    let reason =
        connection::serve_stream(stream, Default::default(), &conn, &adapter, &driving).await;
    conn.finish(reason.clone());
    reason
}
