//! [`Conn`], the handle a [`Service`](crate::Service) answers through, the
//! same on both engines; and the connection flags both engines keep.
//!
//! `Conn` delegates, like the library's `Event { inner }`: it holds one
//! engine's connection handle ([`ConnInner`], one variant per engine, each
//! behind the `cfg` of the builds that have it) and each method is one
//! `match` generated from the list of engines in `engine.rs`, static
//! dispatch to the engine's [`EngineConn`] impl, inlined. Nothing of
//! either engine shows in `Conn`'s methods, and no `cfg` is in their
//! bodies. The output paths themselves are each engine's:
//! `readiness/conn.rs` (send at once, queue the rest, flush when writable)
//! and `uring/conn.rs` (sends submitted as requests, completions later).

use std::net::SocketAddr;

use crate::engine::{ConnInner, EngineConn};

/// Connection flag: reading paused for backpressure.
pub(crate) const PAUSED: u8 = 1;
/// Connection flag: the peer shut down its writing side.
pub(crate) const READ_CLOSED: u8 = 2;
/// Connection flag: close once the queued output is sent.
pub(crate) const CLOSE_AFTER_FLUSH: u8 = 4;

/// One connection, as seen by a [`Service`](crate::Service).
pub struct Conn<'a> {
    inner: ConnInner<'a>,
}

impl<'a> Conn<'a> {
    /// The handle over an engine's connection (`ReadyConn`, `UringConn`).
    #[inline]
    pub(crate) fn new(inner: impl Into<ConnInner<'a>>) -> Conn<'a> {
        Conn {
            inner: inner.into(),
        }
    }
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer())
            .field("pending", &self.pending())
            .finish()
    }
}

impl Conn<'_> {
    /// The peer's address.
    #[inline]
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer()
    }

    /// Bytes queued and not yet sent.
    #[inline]
    pub fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// Sends `data`: at once if nothing is queued (one `write`, or on the
    /// io_uring engine one send submitted with the next wait), queueing
    /// whatever the kernel does not take; after queued bytes otherwise.
    /// Bytes go out exactly once and in order. A write error closes the
    /// connection after the current callback (reported as
    /// [`CloseReason::Error`](crate::CloseReason::Error)); later sends are
    /// then ignored.
    #[inline]
    pub fn send(&mut self, data: &[u8]) {
        self.inner.send(data);
    }

    /// Closes the connection once everything queued is sent; reading stops
    /// now. Input that still arrives is discarded until the peer closes
    /// (at most [`Config::shutdown_grace`](crate::Config::shutdown_grace)),
    /// so that closing does not reset the connection and destroy what the
    /// peer has yet to read.
    #[inline]
    pub fn close(&mut self) {
        self.inner.close();
    }
}
