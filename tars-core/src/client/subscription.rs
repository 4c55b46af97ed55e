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
use std::sync::Arc;
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
        if matches!(state, SubscriptionState::Registered { .. }) {
            self.registered_once.send_replace(true);
        }
        self.state.send_replace(state);
    }
}

/// A running subscription; dropping it (or [`cancel`](Self::cancel)) stops its registration
/// loops and keep-alives. The connections stay open while their proxies live.
///
/// It runs one registration loop, or one per endpoint with
/// [`SubscribeOptions::all_endpoints`].
pub struct PushSubscription {
    cancel: CancellationToken,
    statuses: Vec<Arc<Status>>,
    _guard: DropGuard,
}

impl PushSubscription {
    /// Stops re-registering and pinging.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The state of the (first) registration loop.
    pub fn state(&self) -> SubscriptionState {
        match self.statuses.first() {
            Some(status) => status.state.borrow().clone(),
            None => SubscriptionState::Cancelled,
        }
    }

    /// The state of every registration loop (one per endpoint with `all_endpoints`).
    pub fn states(&self) -> Vec<SubscriptionState> {
        self.statuses
            .iter()
            .map(|s| s.state.borrow().clone())
            .collect()
    }

    /// A `watch` of the (first) registration loop's state.
    pub fn watch(&self) -> watch::Receiver<SubscriptionState> {
        match self.statuses.first() {
            Some(status) => status.state.subscribe(),
            None => watch::Sender::new(SubscriptionState::Cancelled).subscribe(),
        }
    }

    /// Resolves `Ok(())` once every registration loop has registered successfully at least
    /// once (at once if that already happened). Failed attempts do not end the wait (they
    /// are retried; see [`state`](Self::state)): bound it with a timeout if the server may
    /// be unreachable. Fails with [`TarsError::ConnectionClosed`] if the subscription stops
    /// first (cancelled, or its communicator shut down) or has no endpoint.
    pub async fn ready(&self) -> TarsResult<()> {
        if self.statuses.is_empty() {
            return Err(stopped());
        }
        for status in &self.statuses {
            let mut once = status.registered_once.subscribe();
            let mut state = status.state.subscribe();
            loop {
                if *once.borrow_and_update() {
                    break;
                }
                if matches!(*state.borrow_and_update(), SubscriptionState::Cancelled) {
                    return Err(stopped());
                }
                tokio::select! {
                    _ = once.changed() => {}
                    _ = state.changed() => {}
                }
            }
        }
        Ok(())
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
    pub fn subscribe<F, Fut>(&self, options: SubscribeOptions, register: F) -> PushSubscription
    where
        F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: RegisterReply,
    {
        let cancel = self.shutdown_token().child_token();
        let register = Arc::new(register);
        let endpoints = self.endpoints().len();
        let groups: Vec<Vec<usize>> = if endpoints == 0 {
            Vec::new()
        } else if options.all_endpoints {
            (0..endpoints).map(|i| vec![i]).collect()
        } else {
            vec![(0..endpoints).collect()]
        };
        let mut statuses = Vec::new();
        for candidates in groups {
            let status = Status::new();
            statuses.push(status.clone());
            let proxy = self.clone();
            let (register, options, cancel) = (register.clone(), options.clone(), cancel.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = keep_subscribed(proxy, candidates, options, register, &status) => {}
                }
                status.set(SubscriptionState::Cancelled);
            });
        }
        PushSubscription {
            _guard: cancel.clone().drop_guard(),
            cancel,
            statuses,
        }
    }
}

/// Registers on one of `candidates` (tried in turn), stays there while the connection lives,
/// and starts over when it closes.
async fn keep_subscribed<F, Fut>(
    proxy: ServantProxy,
    candidates: Vec<usize>,
    options: SubscribeOptions,
    register: Arc<F>,
    status: &Status,
) where
    F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: RegisterReply,
{
    let object = proxy.object_name().to_string();
    let endpoints = proxy.endpoints();
    let mut backoff = options.initial_backoff;
    let mut next = 0usize;
    loop {
        let index = candidates[next % candidates.len()];
        next += 1;
        let endpoint = endpoints[index].clone();
        status.set(SubscriptionState::Registering);
        let attempt = async {
            let (bound, closed) = proxy.bind(index).await?;
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
            keep_alive(&bound, index, &closed, options.keepalive_for(&endpoint)).await;
            info!(%object, %endpoint, "push connection lost, registering again");
        }
        // Retry the same endpoint first: it is usually restarting.
        next -= 1;
        tokio::time::sleep(options.initial_backoff).await;
    }
}

/// Pings the bound connection every `every` until it closes (or a ping fails: then closes
/// it).
async fn keep_alive(
    bound: &ServantProxy,
    index: usize,
    closed: &CancellationToken,
    every: Option<Duration>,
) {
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
                warn!(object = bound.object_name(), index, %error, "keep-alive failed, reconnecting");
                bound.disconnect(index);
                return;
            }
        }
    }
}
