//! Push subscriptions that survive real life: the register call is made again on every
//! (re)connect, a keep-alive `tars_ping` keeps the connection from idling out and detects
//! dead ones, reconnects back off, and the state of each registration is observable.

use super::stats::UserCode;
use super::ServantProxy;
use crate::endpoint::Endpoint;
use crate::error::{TarsError, TarsResult};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, info, warn};

/// How a [`PushSubscription`] behaves.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// Subscribe on every endpoint of the proxy (receive the pushes of every server
    /// instance) instead of one.
    pub all_endpoints: bool,
    /// Longest interval of the keep-alive `tars_ping`; `None` disables it. The ping always
    /// runs at least three times per idle timeout of the endpoint (its `-t`, 3000 ms when
    /// the proxy string leaves it out, as on a server), so the server never closes the
    /// subscribed connection as idle.
    pub keepalive: Option<Duration>,
    /// First reconnect delay; doubles after each failure up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            all_endpoints: false,
            keepalive: Some(Duration::from_secs(10)),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl SubscribeOptions {
    /// The keep-alive interval used on `endpoint`: `keepalive`, but at most a third of the
    /// endpoint's idle timeout (`-t`; 0 means none).
    pub fn keepalive_for(&self, endpoint: &Endpoint) -> Option<Duration> {
        let every = self.keepalive?;
        if endpoint.timeout_ms == 0 {
            return Some(every);
        }
        let third = Duration::from_millis((endpoint.timeout_ms / 3).max(1));
        Some(every.min(third))
    }
}

/// What a subscription's register function returns: `TarsResult<i32>` (the register
/// call's business return code; 0 is success, anything else is a refusal shown as
/// [`SubscriptionState::Refused`] and retried) or `TarsResult<()>` (success).
pub trait RegisterReply: Send + 'static {
    /// The return code, or the call's error.
    fn into_ret(self) -> TarsResult<i32>;
}

impl RegisterReply for TarsResult<()> {
    fn into_ret(self) -> TarsResult<i32> {
        self.map(|()| 0)
    }
}

impl RegisterReply for TarsResult<i32> {
    fn into_ret(self) -> TarsResult<i32> {
        self
    }
}

/// Where one registration of a [`PushSubscription`] stands.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SubscriptionState {
    /// Connecting and calling the register function: at first, and after each loss.
    Registering,
    /// Registered on the connection to `endpoint`; pushes flow.
    Registered {
        /// The endpoint registered on.
        endpoint: Endpoint,
    },
    /// The register call answered the non-zero business return code `ret`; retried after
    /// a backoff.
    Refused {
        /// The endpoint that refused.
        endpoint: Endpoint,
        /// The register call's return code.
        ret: i32,
    },
    /// Connecting or the register call failed (or the register function panicked); retried
    /// after a backoff.
    Failed {
        /// The endpoint tried.
        endpoint: Endpoint,
        /// What went wrong.
        error: TarsError,
    },
    /// Stopped: cancelled, dropped, or the communicator shut down.
    Cancelled,
}

/// One registration loop's state, and whether it ever registered.
struct Status {
    state: watch::Sender<SubscriptionState>,
    registered_once: watch::Sender<bool>,
}

impl Status {
    fn new() -> Arc<Self> {
        Arc::new(Status {
            state: watch::Sender::new(SubscriptionState::Registering),
            registered_once: watch::Sender::new(false),
        })
    }

    fn set(&self, state: SubscriptionState) {
        let registered = matches!(state, SubscriptionState::Registered { .. });
        // The state first: `ready()` wakes on `registered_once` and callers then read it.
        self.state.send_replace(state);
        if registered {
            self.registered_once.send_replace(true);
        }
    }
}

/// A running subscription; dropping it (or [`cancel`](Self::cancel)) stops its registration
/// loops and keep-alives. The connections stay open while their proxies live.
///
/// It runs one registration loop, or one per endpoint with
/// [`SubscribeOptions::all_endpoints`]; for an object called by name, those loops follow
/// the registry: an instance that appears gets its loop within one refresh, one that
/// leaves loses it.
pub struct PushSubscription {
    cancel: CancellationToken,
    loops: Arc<Loops>,
    _guard: DropGuard,
}

/// The registration loops of a subscription, and a generation bumped on every change.
struct Loops {
    list: Mutex<Vec<(Option<Endpoint>, Arc<Status>)>>,
    generation: watch::Sender<u64>,
    /// Whether the list follows a resolver (an empty list is then "not yet", not "never").
    dynamic: bool,
}

impl Loops {
    fn snapshot(&self) -> Vec<Arc<Status>> {
        let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().map(|(_, s)| s.clone()).collect()
    }

    fn changed(&self) {
        self.generation.send_modify(|g| *g += 1);
    }
}

impl PushSubscription {
    /// Stops re-registering and pinging.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The state of the (first) registration loop.
    pub fn state(&self) -> SubscriptionState {
        match self.loops.snapshot().first() {
            Some(status) => status.state.borrow().clone(),
            None => SubscriptionState::Cancelled,
        }
    }

    /// The state of every registration loop (one per endpoint with `all_endpoints`).
    pub fn states(&self) -> Vec<SubscriptionState> {
        self.loops
            .snapshot()
            .iter()
            .map(|s| s.state.borrow().clone())
            .collect()
    }

    /// The endpoints of the registration loops with `all_endpoints` (in loop order, as
    /// [`states`](Self::states)); empty for a single-endpoint subscription.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let list = self.loops.list.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().filter_map(|(e, _)| e.clone()).collect()
    }

    /// A `watch` of the (first) registration loop's state.
    pub fn watch(&self) -> watch::Receiver<SubscriptionState> {
        match self.loops.snapshot().first() {
            Some(status) => status.state.subscribe(),
            None => watch::Sender::new(SubscriptionState::Cancelled).subscribe(),
        }
    }

    /// A `watch` bumped each time a registration loop is added or removed (an
    /// all-endpoints subscription following the registry).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.loops.generation.subscribe()
    }

    /// Resolves `Ok(())` once every registration loop has registered successfully at least
    /// once (at once if that already happened). Failed attempts do not end the wait (they
    /// are retried; see [`state`](Self::state)): bound it with a timeout if the server may
    /// be unreachable. For an object called by name it also waits for the first lookup.
    /// Fails with [`TarsError::ConnectionClosed`] if the subscription stops first
    /// (cancelled, or its communicator shut down) or has no endpoint.
    pub async fn ready(&self) -> TarsResult<()> {
        'again: loop {
            let mut generation = self.loops.generation.subscribe();
            generation.borrow_and_update();
            let statuses = self.loops.snapshot();
            if self.cancel.is_cancelled() {
                return Err(self.stopped(&statuses).await);
            }
            if statuses.is_empty() && !self.loops.dynamic {
                return Err(stopped());
            }
            if statuses.is_empty() {
                tokio::select! {
                    _ = generation.changed() => continue 'again,
                    _ = self.cancel.cancelled() => return Err(stopped()),
                }
            }
            for status in &statuses {
                let mut once = status.registered_once.subscribe();
                let mut state = status.state.subscribe();
                loop {
                    if *once.borrow_and_update() {
                        break;
                    }
                    if matches!(*state.borrow_and_update(), SubscriptionState::Cancelled) {
                        if self.cancel.is_cancelled() {
                            return Err(self.stopped(&statuses).await);
                        }
                        continue 'again;
                    }
                    tokio::select! {
                        _ = once.changed() => {}
                        _ = state.changed() => {}
                        _ = generation.changed() => continue 'again,
                    }
                }
            }
            if !generation.has_changed().unwrap_or(false) {
                return Ok(());
            }
        }
    }
}

impl PushSubscription {
    /// Once cancelled: waits until every loop shows `Cancelled` (their tasks end at once).
    async fn stopped(&self, statuses: &[Arc<Status>]) -> TarsError {
        for status in statuses {
            let mut state = status.state.subscribe();
            let _ = state
                .wait_for(|s| matches!(s, SubscriptionState::Cancelled))
                .await;
        }
        stopped()
    }
}

fn stopped() -> TarsError {
    TarsError::ConnectionClosed("the subscription stopped before it registered".into())
}

impl ServantProxy {
    /// Keeps a push subscription alive: `register` (typically a call to the servant's
    /// `registerPush`) runs each time a connection opens, on a proxy bound to that
    /// connection; the connection is kept alive with `tars_ping`; when it drops (server
    /// restart, `_reconnect_` at graceful shutdown, network failure) it is reopened with
    /// backoff and `register` runs again, so pushes resume without user code. Set the push
    /// callback before subscribing.
    ///
    /// `register` returns a [`RegisterReply`]: `TarsResult<i32>` (a non-zero return code is
    /// a refusal, retried) or `TarsResult<()>`. The subscription's progress is in
    /// [`PushSubscription::state`] and [`PushSubscription::ready`]; failures are logged at
    /// warn level. It ends when dropped, cancelled, or when the communicator shuts down.
    ///
    /// With `all_endpoints` on an object called by name, the loops follow every instance
    /// the resolver lists (`ResolveScope::All`), as it changes.
    pub fn subscribe<F, Fut>(&self, options: SubscribeOptions, register: F) -> PushSubscription
    where
        F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: RegisterReply,
    {
        let cancel = self.shutdown_token().child_token();
        let register = Arc::new(register);
        let dynamic = self.is_resolved_by_name();
        let loops = Arc::new(Loops {
            list: Mutex::new(Vec::new()),
            generation: watch::Sender::new(0),
            dynamic,
        });
        let runs = Runs {
            proxy: self.clone(),
            options: options.clone(),
            register,
            cancel: cancel.clone(),
        };
        if options.all_endpoints {
            let endpoints = self.follow_endpoints(true);
            if !dynamic {
                // A fixed list: its loops exist at once (and none for no endpoint).
                for endpoint in endpoints.borrow().iter() {
                    let status = Status::new();
                    loops
                        .list
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((Some(endpoint.clone()), status.clone()));
                    runs.spawn_one(Some(endpoint.clone()), status, cancel.child_token());
                }
            } else {
                tokio::spawn(follow(runs, loops.clone(), endpoints));
            }
        } else if dynamic || !self.endpoints().is_empty() {
            let status = Status::new();
            loops
                .list
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((None, status.clone()));
            runs.spawn_one(None, status, cancel.clone());
        }
        PushSubscription {
            _guard: cancel.clone().drop_guard(),
            cancel,
            loops,
        }
    }
}

/// What every registration loop of one subscription shares.
struct Runs<F> {
    proxy: ServantProxy,
    options: SubscribeOptions,
    register: Arc<F>,
    cancel: CancellationToken,
}

impl<F, Fut> Runs<F>
where
    F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: RegisterReply,
{
    /// A loop on `endpoint` (or on the call list, trying each in turn, with `None`) until
    /// `stop`.
    fn spawn_one(&self, endpoint: Option<Endpoint>, status: Arc<Status>, stop: CancellationToken) {
        let proxy = self.proxy.clone();
        let (register, options) = (self.register.clone(), self.options.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = keep_subscribed(proxy, endpoint, options, register, &status) => {}
            }
            status.set(SubscriptionState::Cancelled);
        });
    }
}

/// Keeps one loop per endpoint of `endpoints` (every instance the resolver lists): new
/// instances get a loop, removed ones lose theirs.
async fn follow<F, Fut>(
    runs: Runs<F>,
    loops: Arc<Loops>,
    mut endpoints: watch::Receiver<Arc<Vec<Endpoint>>>,
) where
    F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: RegisterReply,
{
    let mut running: Vec<(Endpoint, CancellationToken)> = Vec::new();
    loop {
        let now: Vec<Endpoint> = endpoints.borrow_and_update().iter().cloned().collect();
        // An empty answer never reaches here (the resolver keeps the old list).
        let (gone, kept): (Vec<_>, Vec<_>) = running.drain(..).partition(|(e, _)| !now.contains(e));
        running = kept;
        let added: Vec<Endpoint> = now
            .iter()
            .filter(|e| !running.iter().any(|(r, _)| r == *e))
            .cloned()
            .collect();
        if !gone.is_empty() || !added.is_empty() {
            let mut list = loops.list.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|(e, _)| e.as_ref().is_some_and(|e| now.contains(e)));
            for endpoint in &added {
                let status = Status::new();
                let stop = runs.cancel.child_token();
                list.push((Some(endpoint.clone()), status.clone()));
                running.push((endpoint.clone(), stop.clone()));
                runs.spawn_one(Some(endpoint.clone()), status, stop);
            }
            drop(list);
            loops.changed();
            for (endpoint, stop) in gone {
                info!(object = runs.proxy.object_name(), %endpoint, "instance left the registry, push subscription dropped");
                stop.cancel();
            }
        }
        tokio::select! {
            _ = runs.cancel.cancelled() => return,
            changed = endpoints.changed() => if changed.is_err() { return },
        }
    }
}

/// Closes a subscription's own connection (one outside the call list) when its loop ends.
struct OwnConnection(Option<ServantProxy>);

impl Drop for OwnConnection {
    fn drop(&mut self) {
        if let Some(bound) = self.0.take() {
            bound.disconnect(0);
        }
    }
}

/// Registers on `endpoint` (or on one of the call list's endpoints, tried in turn), stays
/// there while the connection lives, and starts over when it closes.
async fn keep_subscribed<F, Fut>(
    proxy: ServantProxy,
    fixed: Option<Endpoint>,
    options: SubscribeOptions,
    register: Arc<F>,
    status: &Status,
) where
    F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: RegisterReply,
{
    let object = proxy.object_name().to_string();
    let mut list = proxy.follow_endpoints(false);
    let mut backoff = options.initial_backoff;
    let mut next = 0usize;
    let mut own = OwnConnection(None);
    loop {
        let endpoint = match &fixed {
            Some(endpoint) => endpoint.clone(),
            None => {
                let candidates = list.borrow_and_update().clone();
                if candidates.is_empty() {
                    // Not looked up yet (by name): wait for the list.
                    if list.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
                candidates[next % candidates.len()].clone()
            }
        };
        next += 1;
        status.set(SubscriptionState::Registering);
        let attempt = async {
            let (bound, closed, mine) = proxy.bind(&endpoint).await?;
            if mine {
                own.0 = Some(bound.clone());
            }
            let reply = AssertUnwindSafe(register(bound.clone()))
                .catch_unwind()
                .await
                .map_err(|_| {
                    let what = "the subscription's register function";
                    proxy
                        .counters()
                        .panicked(UserCode::Callback, what, &endpoint);
                    TarsError::Invalid(format!("{what} panicked"))
                })?;
            reply.into_ret().map(|ret| (bound, closed, ret))
        };
        let (bound, closed) = match attempt.await {
            Ok((bound, closed, 0)) => (bound, closed),
            Ok((_, _, ret)) => {
                warn!(%object, %endpoint, ret, "push registration refused, retrying");
                status.set(SubscriptionState::Refused { endpoint, ret });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(options.max_backoff);
                continue;
            }
            Err(error) => {
                warn!(%object, %endpoint, %error, "push registration failed, retrying");
                status.set(SubscriptionState::Failed { endpoint, error });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(options.max_backoff);
                continue;
            }
        };
        backoff = options.initial_backoff;
        if !closed.is_cancelled() {
            debug!(%object, %endpoint, "push registered");
            status.set(SubscriptionState::Registered {
                endpoint: endpoint.clone(),
            });
            keep_alive(&bound, &closed, options.keepalive_for(&endpoint)).await;
            info!(%object, %endpoint, "push connection lost, registering again");
        }
        // Retry the same endpoint first: it is usually restarting.
        next -= 1;
        tokio::time::sleep(options.initial_backoff).await;
    }
}

/// Pings the bound connection every `every` until it closes (or a ping fails: then closes
/// it).
async fn keep_alive(bound: &ServantProxy, closed: &CancellationToken, every: Option<Duration>) {
    loop {
        let ping = async {
            match every {
                Some(every) => {
                    tokio::time::sleep(every).await;
                    bound.tars_ping().await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = closed.cancelled() => return,
            pinged = ping => if let Err(error) = pinged {
                warn!(object = bound.object_name(), %error, "keep-alive failed, reconnecting");
                bound.disconnect(0);
                return;
            }
        }
    }
}
