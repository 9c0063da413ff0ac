//! The readiness engine's side of [`Conn`](crate::Conn): its output path.
//! Send at once when nothing is queued, queue what the kernel did not take,
//! flush the queue when the socket is writable.

use std::net::SocketAddr;
use std::time::Instant;

use rustix::io::Errno;

use super::slot::ConnState;
use crate::conn::CLOSE_AFTER_FLUSH;
use crate::engine::EngineConn;
use crate::report::{Reporter, ServerEvent};

/// A connection of the readiness engine, as a [`Conn`](crate::Conn) holds
/// it: the connection's state and the reporter.
pub(crate) struct ReadyConn<'a> {
    c: &'a mut ConnState,
    report: &'a mut Reporter,
}

impl<'a> ReadyConn<'a> {
    #[inline]
    pub(crate) fn new(c: &'a mut ConnState, report: &'a mut Reporter) -> ReadyConn<'a> {
        ReadyConn { c, report }
    }
}

impl EngineConn for ReadyConn<'_> {
    #[inline]
    fn peer(&self) -> SocketAddr {
        self.c.peer
    }

    #[inline]
    fn pending(&self) -> usize {
        self.c.pending()
    }

    #[inline]
    fn send(&mut self, data: &[u8]) {
        let c = &mut *self.c;
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

    #[inline]
    fn close(&mut self) {
        self.c.flags |= CLOSE_AFTER_FLUSH;
    }
}

/// [`Conn::send`](crate::Conn::send) with tracing, queued bytes or an
/// error. Out of line, so that the inlined fast path stays small.
#[inline(never)]
fn send_slow(c: &mut ConnState, report: &mut Reporter, data: &[u8]) {
    if data.is_empty() || c.error.is_some() {
        return;
    }
    let mut rest = data;
    if c.pending() == 0 {
        match c.send(data) {
            Ok(n) => {
                report.sent(&c.peer, &data[..n]);
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
            report.sent(&c.peer, &c.unsent()[..n]);
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
