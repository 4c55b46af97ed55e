//! Layers around client calls: code that sees every call of a communicator before it is
//! sent and after it ends (stat reports, tracing, metrics, user middleware).

use crate::endpoint::Endpoint;
use crate::error::TarsError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// One call, as a [`CallLayer`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo<'a> {
    /// The servant object (`App.Server.Obj`).
    pub object: &'a str,
    /// The function (`sayHello`, `tars_ping`).
    pub func: &'a str,
    /// Whether the call is one-way.
    pub oneway: bool,
}

/// How a call ended, for [`CallLayer::after`].
#[derive(Debug, Clone, Copy)]
pub struct CallOutcome<'a> {
    /// The endpoint the call went to; `None` if it failed before one was picked.
    pub endpoint: Option<&'a Endpoint>,
    /// From the start of the call to its end.
    pub duration: Duration,
    /// `Ok(ret)`: the server answered with `iRet` `ret` (0 for one-way calls once sent);
    /// `Err`: the call failed on our side (timeout, connection, encoding).
    pub result: Result<i32, &'a TarsError>,
}

/// Runs around every call of a communicator's proxies (install with
/// [`Communicator::add_layer`](super::Communicator::add_layer)). Both methods run on the
/// caller's task, so keep them short and never block; a panic in a layer is the caller's.
pub trait CallLayer: Send + Sync + 'static {
    /// Before the call is sent.
    fn before(&self, call: &CallInfo<'_>) {
        let _ = call;
    }

    /// After the call ended (answered, failed or timed out).
    fn after(&self, call: &CallInfo<'_>, outcome: &CallOutcome<'_>);
}

/// The layers of one communicator. With none installed a call pays one relaxed load.
#[derive(Default)]
pub(crate) struct Layers {
    any: AtomicBool,
    list: RwLock<Arc<[Arc<dyn CallLayer>]>>,
}

impl Layers {
    pub(crate) fn add(&self, layer: Arc<dyn CallLayer>) {
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        let mut next: Vec<_> = list.iter().cloned().collect();
        next.push(layer);
        *list = next.into();
        self.any.store(true, Ordering::Release);
    }

    /// The layers, or `None` when there are none (the hot path).
    #[inline]
    pub(crate) fn get(&self) -> Option<Arc<[Arc<dyn CallLayer>]>> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        Some(self.list.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}
