//! What went wrong in user code called by the client: panics are caught, logged at error
//! level and counted here ([`Communicator::stats`](super::Communicator::stats)).

use crate::endpoint::Endpoint;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::error;

/// Counters of a [`Communicator`](super::Communicator), shared by all its proxies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Panics of a [`PushCallback`](super::PushCallback) (`on_push`, `on_connect`,
    /// `on_close`) or of a subscription's register function. A panicking `on_push` drops
    /// that push; the connection stays up.
    pub callback_panics: u64,
    /// Panics of a [`ResponseDecoder`](super::ResponseDecoder): each closed its connection
    /// (its calls failed at once; the next call reconnects).
    pub decoder_panics: u64,
    /// Panics of a [`RequestEncoder`](super::RequestEncoder): each failed its call only.
    pub encoder_panics: u64,
}

/// The live counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    callback_panics: AtomicU64,
    decoder_panics: AtomicU64,
    encoder_panics: AtomicU64,
}

/// Which kind of user code panicked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UserCode {
    Callback,
    Decoder,
    Encoder,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ClientStats {
        ClientStats {
            callback_panics: self.callback_panics.load(Ordering::Relaxed),
            decoder_panics: self.decoder_panics.load(Ordering::Relaxed),
            encoder_panics: self.encoder_panics.load(Ordering::Relaxed),
        }
    }

    /// Logs and counts a panic of `what` (a name for the log) near `endpoint`.
    pub(crate) fn panicked(&self, kind: UserCode, what: &str, endpoint: &Endpoint) {
        let counter = match kind {
            UserCode::Callback => &self.callback_panics,
            UserCode::Decoder => &self.decoder_panics,
            UserCode::Encoder => &self.encoder_panics,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        error!(%endpoint, "{what} panicked");
    }

    /// Runs user code `f`; a panic is logged, counted and returned as `None`.
    pub(crate) fn guard<R>(
        &self,
        kind: UserCode,
        what: &str,
        endpoint: &Endpoint,
        f: impl FnOnce() -> R,
    ) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => Some(r),
            Err(_) => {
                self.panicked(kind, what, endpoint);
                None
            }
        }
    }
}
