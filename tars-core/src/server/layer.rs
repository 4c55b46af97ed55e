//! Layers around servant calls: code that sees every TARS call an adapter dispatches (stat
//! reports, tracing, auth checks, metrics). With none installed, the servant is not wrapped
//! and the call path is unchanged.

use super::current::Current;
use super::servant::{BoxFuture, Servant};
use crate::error::TarsResult;
use crate::protocol::{ParamsReader, ParamsWriter};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs around every call of the servants of a server (install with
/// [`ServerBuilder::layer`](super::ServerBuilder::layer)), on the call's task: keep it short.
pub trait ServantLayer: Send + Sync + 'static {
    /// Before the servant method runs (`current` has the servant, function, peer).
    fn before(&self, current: &Current) {
        let _ = current;
    }

    /// After it returned: `Ok(())` or its error (the iRet answered is `error.code()`), and
    /// how long it ran.
    fn after(&self, current: &Current, duration: Duration, result: Result<(), &crate::TarsError>);
}

/// A servant whose calls run through `layers`.
pub(crate) struct Layered {
    pub(crate) inner: Arc<dyn Servant>,
    pub(crate) layers: Arc<[Arc<dyn ServantLayer>]>,
}

impl Servant for Layered {
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        func: &'a str,
        params: ParamsReader,
    ) -> BoxFuture<'a, TarsResult<ParamsWriter>> {
        Box::pin(async move {
            for layer in self.layers.iter() {
                layer.before(current);
            }
            let started = Instant::now();
            let result = self.inner.dispatch(current, func, params).await;
            let duration = started.elapsed();
            for layer in self.layers.iter() {
                layer.after(current, duration, result.as_ref().map(|_| ()));
            }
            result
        })
    }

    fn do_close(&self, current: &Current) {
        self.inner.do_close(current);
    }
}
