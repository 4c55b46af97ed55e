//! Push subscriptions that survive real life: the register call is made again on every
//! (re)connect, a keep-alive `tars_ping` detects dead connections, and reconnects back off.

use super::ServantProxy;
use crate::error::TarsResult;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::debug;

/// How a [`PushSubscription`] behaves.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// Subscribe on every endpoint of the proxy (receive the pushes of every server
    /// instance) instead of one.
    pub all_endpoints: bool,
    /// Interval of the keep-alive `tars_ping`; `None` disables it.
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

/// A running subscription; dropping it (or [`cancel`](Self::cancel)) stops it. The
/// connections stay open.
pub struct PushSubscription {
    cancel: CancellationToken,
    _guard: DropGuard,
}

impl PushSubscription {
    /// Stops re-registering and pinging.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl ServantProxy {
    /// Keeps a push subscription alive: `register` (typically a call to the servant's
    /// `registerPush`) runs on a proxy pinned to one endpoint each time its connection opens,
    /// the connection is kept alive with `tars_ping`, and when it drops (server restart,
    /// `_reconnect_` at graceful shutdown, network failure) it is reopened with backoff and
    /// `register` runs again, so pushes resume without user code. Set the push callback
    /// before subscribing.
    pub fn subscribe<F, Fut>(&self, options: SubscribeOptions, register: F) -> PushSubscription
    where
        F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TarsResult<()>> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let register = Arc::new(register);
        let endpoints = self.endpoints().len();
        let groups: Vec<Vec<usize>> = if options.all_endpoints {
            (0..endpoints).map(|i| vec![i]).collect()
        } else {
            vec![(0..endpoints).collect()]
        };
        for candidates in groups {
            let proxy = self.clone();
            let (register, options, cancel) = (register.clone(), options.clone(), cancel.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = keep_subscribed(proxy, candidates, options, register) => {}
                }
            });
        }
        PushSubscription {
            _guard: cancel.clone().drop_guard(),
            cancel,
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
) where
    F: Fn(ServantProxy) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TarsResult<()>> + Send + 'static,
{
    let mut backoff = options.initial_backoff;
    let mut next = 0usize;
    loop {
        let index = candidates[next % candidates.len()];
        next += 1;
        let pinned = proxy.on_endpoint(index);
        if let Err(e) = register(pinned.clone()).await {
            debug!(object = proxy.object_name(), index, error = %e, "push register failed, retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(options.max_backoff);
            continue;
        }
        backoff = options.initial_backoff;
        let Some(closed) = pinned.connection_closed_token(index) else {
            // Registered, but the connection is already gone: start over after a pause.
            tokio::time::sleep(options.initial_backoff).await;
            continue;
        };
        debug!(object = proxy.object_name(), index, "push registered");
        loop {
            let ping = async {
                match options.keepalive {
                    Some(every) => {
                        tokio::time::sleep(every).await;
                        pinned.tars_ping().await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = closed.cancelled() => break,
                pinged = ping => if let Err(e) = pinged {
                    debug!(index, error = %e, "keep-alive failed, reconnecting");
                    pinned.disconnect(index);
                    break;
                }
            }
        }
        // Retry the same endpoint first: it is usually restarting.
        next -= 1;
        tokio::time::sleep(options.initial_backoff).await;
    }
}
