//! Module `TestApp` of TarsCpp's PushCallbackDemo: a `Hello` interface whose `registerPush`
//! subscribes the calling connection, and the `Push` interface of the pushes it gets.
//!
//! ```text
//! module TestApp
//! {
//!     interface Hello { int registerPush(); };
//!     interface Push  { int pushMsg(out string sRsp); };
//! };
//! ```

use std::time::Duration;
use tars_core::prelude::*;

/// The servant object name of the demo.
pub const PUSH_OBJ: &str = "TestApp.PushCallbackServer.PushObj";

/// The message every push carries.
pub const PUSH_MESSAGE: &str = "push message";

/// `interface Hello { int registerPush(); }`.
#[tars_interface]
pub trait Hello {
    /// Subscribes the calling connection to pushes.
    async fn register_push(&self, current: &Current) -> TarsResult<i32>;
}

/// `interface Push { int pushMsg(out string sRsp); }`: generates [`PushSender`],
/// [`PushPrxCallback`] and [`PushPrxDispatcher`].
#[tars_push]
pub trait Push {
    /// `int pushMsg(out string sRsp)`.
    async fn push_msg(&self, s_rsp: &mut String) -> TarsResult<i32>;
}

/// The demo servant: keeps every registered connection in a [`CurrentRegistry`].
#[derive(Default, Clone)]
pub struct PushServer {
    /// The registered connections.
    pub registry: CurrentRegistry,
}

impl Hello for PushServer {
    async fn register_push(&self, current: &Current) -> TarsResult<i32> {
        if self.registry.insert(current) {
            tracing::info!(uid = current.uid(), peer = %current.peer_addr(), "registered for pushes");
        }
        Ok(0)
    }

    fn do_close(&self, current: &Current) {
        tracing::info!(
            uid = current.uid(),
            peer = %current.peer_addr(),
            reason = %current.close_reason().map(|r| r.to_string()).unwrap_or_default(),
            "connection closed"
        );
    }
}

impl PushServer {
    /// Pushes `pushMsg(0, "push message")` to every registered connection every `interval`,
    /// until the returned task is aborted.
    pub fn start_pushing(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let registry = self.registry.clone();
        tokio::spawn(async move {
            let frame = PushSender::push_msg_frame(0, PUSH_MESSAGE);
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let report = registry.broadcast(&frame);
                tracing::debug!(sent = report.sent, failed = report.failed, "pushed");
            }
        })
    }
}
