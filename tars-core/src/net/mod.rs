//! Pieces shared by the client and the server connection drivers: the outbound byte queue
//! every producer appends to, and the writer half of a full-duplex driver that drains it.
//!
//! A driver runs its reader and its writer as two futures polled side by side in one task:
//! reading never waits for a write, and a write that makes no progress for the stall timeout
//! ends the connection instead of pinning it.

mod outbound;
mod socket;
mod writer;

pub(crate) use outbound::{AppendError, Outbound};
pub(crate) use socket::SharedTcp;
#[cfg(test)]
pub(crate) use writer::write_loop;
pub(crate) use writer::{write_loop_gathering, QueueWriter, WriteError};
