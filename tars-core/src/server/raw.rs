//! Third-party protocols: a servant that frames packets its own way ([`PacketParser`]) and
//! handles raw bytes ([`RawServant`]), as TarsCpp's `addServantProtocol` + `doRequest`.

use super::connection::ConnectionProtocol;
use super::current::{Connection, Current};
use crate::protocol::{FrameError, LengthPrefix};
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use tracing::{debug, warn};

/// What a parser found at the front of a connection's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet (TarsCpp `PACKET_LESS`); the input must be left untouched.
    Less,
    /// One whole packet, already removed from the input (`PACKET_FULL`).
    Full(Bytes),
    /// The input is not this protocol (`PACKET_ERR`): that connection is closed.
    Error(String),
}

/// Splits a connection's input into packets.
pub trait PacketParser: Send + Sync + 'static {
    /// Looks at the front of `input`; on [`Parsed::Full`] the packet must have been split off
    /// it (`input.split_to(n)`).
    fn parse(&self, input: &mut BytesMut) -> Parsed;
}

impl<F> PacketParser for F
where
    F: Fn(&mut BytesMut) -> Parsed + Send + Sync + 'static,
{
    fn parse(&self, input: &mut BytesMut) -> Parsed {
        self(input)
    }
}

/// The ready-made parser for 4-byte big-endian length framings: the packet handed to the
/// servant includes the header (as TarsCpp's `parseStream`).
impl PacketParser for LengthPrefix {
    fn parse(&self, input: &mut BytesMut) -> Parsed {
        match self.split_frame(input) {
            Ok(Some(packet)) => Parsed::Full(packet),
            Ok(None) => Parsed::Less,
            Err(e @ (FrameError::TooShort { .. } | FrameError::TooLong { .. })) => {
                Parsed::Error(e.to_string())
            }
        }
    }
}

/// A servant that handles raw packets of its own protocol.
pub trait RawServant: Send + Sync + 'static {
    /// Handles one packet. The bytes returned, if any, are written back as they are.
    /// `current` can be kept to send more later ([`Current::send_response`]) or closed.
    fn do_request(
        &self,
        current: &Current,
        packet: Bytes,
    ) -> impl Future<Output = Option<Bytes>> + Send;

    /// Called once for every connection that closes (peer close, server close, idle
    /// timeout, parse error, shutdown).
    fn do_close(&self, current: &Current) {
        let _ = current;
    }
}

/// A raw adapter: a parser and a servant behind one endpoint.
pub(crate) struct RawAdapter<P, S> {
    pub(crate) parser: P,
    pub(crate) servant: Arc<S>,
}

impl<P: PacketParser, S: RawServant> ConnectionProtocol for RawAdapter<P, S> {
    fn split(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        match self.parser.parse(buf) {
            Parsed::Less => Ok(None),
            Parsed::Full(packet) => Ok(Some(packet)),
            Parsed::Error(e) => Err(e),
        }
    }

    fn on_packet(&self, conn: &Arc<Connection>, packet: Bytes, _: Instant, out: &mut BytesMut) {
        let Some(permit) = conn.try_begin_request() else {
            // A raw protocol has no overload code: shed the packet.
            warn!(uid = conn.uid, "too many packets in flight, dropping one");
            return;
        };
        let servant = self.servant.clone();
        let current = Current {
            conn: conn.clone(),
            request: None,
        };
        let mut call = Box::pin(async move {
            let handled = AssertUnwindSafe(servant.do_request(&current, packet))
                .catch_unwind()
                .await;
            if handled.is_err() {
                warn!(
                    uid = current.uid(),
                    "raw servant panicked, closing the connection"
                );
                current.close();
            }
            (current, handled.ok().flatten())
        });
        // As for TARS calls: a packet handled without waiting answers in this batch's write.
        match call.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready((_, response)) => {
                drop(permit);
                if let Some(response) = response {
                    out.extend_from_slice(&response);
                }
            }
            Poll::Pending => {
                tokio::spawn(async move {
                    let _permit = permit;
                    let (current, response) = call.await;
                    if let Some(response) = response {
                        if current.conn.send_response(response).await.is_err() {
                            debug!(
                                uid = current.uid(),
                                "connection closed before the response was sent"
                            );
                        }
                    }
                });
            }
        }
    }

    fn on_shutdown(&self, _conn: &Arc<Connection>) {}

    fn on_close(&self, current: &Current) {
        self.servant.do_close(current);
    }
}
