//! Third-party protocols: a servant that frames packets its own way ([`PacketParser`]) and
//! handles raw bytes ([`RawServant`]), as TarsCpp's `addServantProtocol` + `doRequest`.

use super::connection::ConnectionProtocol;
use super::current::{Connection, Current};
use super::servant::bounded;
use crate::protocol::{FrameError, LengthPrefix};
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use tracing::{debug, error, warn};

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
    fn split(&self, conn: &Connection, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| self.parser.parse(buf)));
        match parsed {
            Ok(Parsed::Less) => Ok(None),
            Ok(Parsed::Full(packet)) => Ok(Some(packet)),
            Ok(Parsed::Error(e)) => Err(e),
            Err(_) => {
                conn.panicked("PacketParser::parse");
                Err("the packet parser panicked".to_string())
            }
        }
    }

    fn on_packet(&self, conn: &Arc<Connection>, packet: Bytes, _: Instant, out: &mut BytesMut) {
        let len = packet.len();
        let mut admitted = match conn.admit(len) {
            Ok(admitted) => admitted,
            Err(why) => {
                // A raw protocol has no overload code: shed the packet.
                warn!(uid = conn.uid, why, "raw packet dropped");
                return;
            }
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
                current.conn.panicked("RawServant::do_request");
                current.close();
            }
            (current, handled.ok().flatten())
        });
        // As for TARS calls: a packet handled without waiting answers in this batch's append.
        match call.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready((current, response)) => {
                drop(admitted);
                if let Some(response) = response {
                    if fits(&current, &response) {
                        out.extend_from_slice(&response);
                    }
                }
            }
            Poll::Pending => {
                admitted.hold_bytes(&conn.server, len);
                let conn = conn.clone();
                tokio::spawn(async move {
                    let _admitted = admitted;
                    let Some((current, response)) = bounded(call, &conn, None).await else {
                        return;
                    };
                    if let Some(response) = response.filter(|r| fits(&current, r)) {
                        if current.conn.send_response(&response).is_err() {
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

/// Whether a raw answer fits `max_frame_len`; a larger one is dropped with an error log.
fn fits(current: &Current, response: &[u8]) -> bool {
    let limit = current.conn.limits.max_frame_len;
    if response.len() > limit {
        error!(
            uid = current.uid(),
            size = response.len(),
            limit,
            "raw response exceeds the frame limit, dropped"
        );
        return false;
    }
    true
}
