//! The private state of one connection of the readiness (epoll, poll,
//! select, kqueue) event loop: its socket, its output queue, the interest
//! registered for it and its flags.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use ioready::Interest;
use rustix::io::Errno;

use super::net::{self, Sock};

/// Queued output of an idle connection is kept for reuse up to this size.
const KEEP_OUT_CAPACITY: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) stream: TcpStream,
    /// `stream`'s descriptor (std's `as_fd` is not inlined).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    raw: std::os::fd::RawFd,
    pub(crate) peer: SocketAddr,
    out: Vec<u8>,
    out_pos: usize,
    /// The interest currently registered.
    pub(crate) interest: Interest,
    /// [`PAUSED`](crate::conn::PAUSED), [`READ_CLOSED`](crate::conn::READ_CLOSED),
    /// [`CLOSE_AFTER_FLUSH`](crate::conn::CLOSE_AFTER_FLUSH): one byte, so
    /// that the per-event check of [`ConnState::steady`] is one comparison.
    pub(crate) flags: u8,
    pub(crate) error: Option<io::Error>,
    /// When traffic was last seen (kept only with an idle timeout).
    pub(crate) last_active: Option<Instant>,
    /// Set while discarding input after shutting down our writing side.
    pub(crate) linger_until: Option<Instant>,
}

impl ConnState {
    /// A connection registered for reading, with nothing queued.
    pub(crate) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        last_active: Option<Instant>,
    ) -> ConnState {
        ConnState {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            raw: std::os::fd::AsRawFd::as_raw_fd(&stream),
            stream,
            peer,
            out: Vec::new(),
            out_pos: 0,
            interest: Interest::READABLE,
            flags: 0,
            error: None,
            last_active,
            linger_until: None,
        }
    }

    #[inline]
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The socket, borrowed without a call into std.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    fn sock(&self) -> Sock<'_> {
        // SAFETY: `raw` is `stream`'s descriptor, which stays open as long
        // as `stream` lives; the borrow of `self` keeps `stream` alive for
        // the lifetime of the result.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.raw) }
    }

    /// The socket (see the Linux version).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[inline]
    fn sock(&self) -> Sock<'_> {
        &self.stream
    }

    /// One `send` of `data`.
    #[inline]
    pub(crate) fn send(&self, data: &[u8]) -> Result<usize, Errno> {
        net::send_retry(self.sock(), data)
    }

    /// One `recv` into `buf`.
    #[inline]
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        net::recv_retry(self.sock(), buf)
    }

    /// Bytes queued and not yet sent.
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// The queued bytes not yet sent.
    #[inline]
    pub(crate) fn unsent(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Reading, nothing queued, nothing to close: what the event loop's
    /// `sync_interest` would leave as it is.
    #[inline]
    pub(crate) fn steady(&self) -> bool {
        self.out.len() == self.out_pos
            && self.interest == Interest::READABLE
            && self.flags == 0
            && self.error.is_none()
    }

    /// Appends `data` to the output queue, first dropping the sent part if
    /// it is at least half of the buffer (so the buffer does not grow while
    /// a slow peer keeps up).
    #[inline(never)]
    pub(crate) fn queue(&mut self, data: &[u8]) {
        if self.out_pos > 0 && self.out_pos >= self.out.len() / 2 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        self.out.extend_from_slice(data);
    }

    /// `n` queued bytes were sent; returns true if the queue is now empty
    /// (its buffer is then kept for reuse, unless it grew large).
    pub(crate) fn consume(&mut self, n: usize) -> bool {
        self.out_pos += n;
        if self.out_pos < self.out.len() {
            return false;
        }
        self.out_pos = 0;
        if self.out.capacity() > KEEP_OUT_CAPACITY {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        true
    }
}
