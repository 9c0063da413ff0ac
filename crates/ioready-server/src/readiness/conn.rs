//! [`Conn`], the handle a [`Service`](crate::Service) answers through, and
//! the output path behind it: send at once when nothing is queued, queue
//! the rest, flush the queue when the socket is writable.
//!
//! `Conn` is two private pointers: the connection's state and the
//! [`Reporter`]. Nothing of the event loop shows in its public methods
//! (`peer`, `pending`, `send`, `close`), so an engine with another output
//! path (io_uring: sends submitted as SQEs, completions later) can stand
//! behind the same methods by giving `Conn` a second kind of state, while
//! the readiness path below stays as it is.

use std::net::SocketAddr;
use std::time::Instant;

use rustix::io::Errno;

use crate::report::{Reporter, ServerEvent};
use crate::slot::{ConnState, CLOSE_AFTER_FLUSH};
#[cfg(all(feature = "uring", target_os = "linux"))]
use crate::uring::{Io, UConn};

/// One connection, as seen by a [`Service`](crate::Service).
pub struct Conn<'a> {
    state: State<'a>,
    report: &'a mut Reporter,
}

/// The connection's state in the engine that serves it.
enum State<'a> {
    /// The readiness loop's.
    Ready(&'a mut ConnState),
    /// The io_uring engine's, with the ring to submit to.
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring(&'a mut UConn, &'a mut Io),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer())
            .field("pending", &self.pending())
            .finish()
    }
}

impl<'a> Conn<'a> {
    #[inline]
    pub(crate) fn new(state: &'a mut ConnState, report: &'a mut Reporter) -> Conn<'a> {
        Conn {
            state: State::Ready(state),
            report,
        }
    }

    /// A connection of the io_uring engine.
    #[cfg(all(feature = "uring", target_os = "linux"))]
    #[inline]
    pub(crate) fn uring(c: &'a mut UConn, io: &'a mut Io, report: &'a mut Reporter) -> Conn<'a> {
        Conn {
            state: State::Uring(c, io),
            report,
        }
    }
}

impl Conn<'_> {
    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        match &self.state {
            State::Ready(c) => c.peer,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            State::Uring(c, _) => c.peer,
        }
    }

    /// Bytes queued and not yet sent.
    pub fn pending(&self) -> usize {
        match &self.state {
            State::Ready(c) => c.pending(),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            State::Uring(c, _) => c.pending(),
        }
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
        let c = match &mut self.state {
            State::Ready(c) => &mut **c,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            State::Uring(c, io) => return c.send(io, data),
        };
        // The common case, inline: nothing queued, no tracing, one write.
        if !self.report.trace && c.pending() == 0 && c.error.is_none() && !data.is_empty() {
            match c.send(data) {
                Ok(n) => {
                    self.report.stats.bytes_out += n as u64;
                    if n < data.len() {
                        c.queue(&data[n..]);
                    }
                }
                Err(Errno::AGAIN) => c.queue(data),
                Err(e) => c.error = Some(e.into()),
            }
            return;
        }
        send_slow(c, self.report, data);
    }

    /// Closes the connection once everything queued is sent; reading stops
    /// now. Input that still arrives is discarded until the peer closes
    /// (at most [`Config::shutdown_grace`](crate::Config::shutdown_grace)),
    /// so that closing does not reset the connection and destroy what the
    /// peer has yet to read.
    pub fn close(&mut self) {
        match &mut self.state {
            State::Ready(c) => c.flags |= CLOSE_AFTER_FLUSH,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            State::Uring(c, _) => c.flags |= CLOSE_AFTER_FLUSH,
        }
    }
}

/// [`Conn::send`] with tracing, queued bytes or an error. Out of line, so
/// that the inlined fast path stays small.
#[inline(never)]
fn send_slow(c: &mut ConnState, report: &mut Reporter, data: &[u8]) {
    if data.is_empty() || c.error.is_some() {
        return;
    }
    let mut rest = data;
    if c.pending() == 0 {
        match c.send(data) {
            Ok(n) => {
                report.sent(c.peer, &data[..n]);
                rest = &data[n..];
                if rest.is_empty() {
                    report.trace(&ServerEvent::QueueEmpty(c.peer));
                    return;
                }
            }
            Err(Errno::AGAIN) => {}
            Err(e) => {
                c.error = Some(e.into());
                return;
            }
        }
    }
    c.queue(rest);
}

/// One write of the queued bytes (level-triggered: a partial write is
/// followed by another writable event).
pub(crate) fn flush(c: &mut ConnState, report: &mut Reporter) {
    match c.send(c.unsent()) {
        Ok(n) => {
            report.sent(c.peer, &c.unsent()[..n]);
            if let Some(t) = &mut c.last_active {
                *t = Instant::now();
            }
            if c.consume(n) {
                report.trace(&ServerEvent::QueueEmpty(c.peer));
            }
        }
        Err(Errno::AGAIN) => {}
        Err(e) => c.error = Some(e.into()),
    }
}
