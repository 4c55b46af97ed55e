//! Client-side push handling: [`PushCallback`] receives responses with request id 0 and the
//! connect / close events of the proxy's connections.

use crate::endpoint::Endpoint;
use crate::protocol::ResponsePacket;

/// Receives what a server pushes on a proxy's connections, as TarsCpp's push callback.
///
/// `#[tars_push]` generates a typed implementation that routes by `status["TARS_FUNC"]`;
/// third-party protocols implement it directly to get each unsolicited packet.
/// Called on the connection's task: return quickly (spawn for long work). A panic in any
/// method is caught, logged at error level and counted
/// ([`Communicator::stats`](super::Communicator::stats)): a panicking `on_push` loses that
/// push only, the connection stays up.
pub trait PushCallback: Send + Sync + 'static {
    /// A response with request id 0.
    fn on_push(&self, endpoint: &Endpoint, push: ResponsePacket);

    /// A connection to `endpoint` opened.
    fn on_connect(&self, endpoint: &Endpoint) {
        let _ = endpoint;
    }

    /// A connection to `endpoint` closed (its pending calls have failed).
    fn on_close(&self, endpoint: &Endpoint) {
        let _ = endpoint;
    }
}

/// Any `Fn(&Endpoint, ResponsePacket)` is a push callback that ignores connection events.
impl<F> PushCallback for F
where
    F: Fn(&Endpoint, ResponsePacket) + Send + Sync + 'static,
{
    fn on_push(&self, endpoint: &Endpoint, push: ResponsePacket) {
        self(endpoint, push)
    }
}
