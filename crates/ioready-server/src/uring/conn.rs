//! The state of one connection of the io_uring engine, and its side of
//! [`Conn`](crate::Conn): the output path ([`Conn::send`](crate::Conn::send)
//! on this engine).
//!
//! A connection has at most one send in flight, so its bytes leave in order
//! whatever the kernel takes per send. The send is either
//!
//! * **zero-copy**, straight from the receive buffer the data arrived in,
//!   when a service sends back (a slice of) what it is handed and nothing
//!   else is queued: the echo path. The buffer goes back to the ring when
//!   the send completes, which is within the next `io_uring_enter`: sends
//!   are `MSG_DONTWAIT`, never parked in the kernel;
//! * or from the connection's own `out` buffer (a copy).
//!
//! Bytes given while a send is in flight (or while the connection waits for
//! room after a short send) are appended to `queued`, which becomes the next
//! send. A short send keeps its unsent rest in `out` (copied out of the
//! receive buffer if it was zero-copy, so a client that does not read never
//! pins the shared buffers) and polls for writability before sending again.
//! `out` is never touched while the kernel may be reading it.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use ioready::uring::{squeue, Ring};

use super::ops::{self, Ud};
use crate::conn::CLOSE_AFTER_FLUSH;
use crate::engine::EngineConn;
use crate::report::Reporter;

/// Queued output of an idle connection is kept for reuse up to this size.
const KEEP_OUT_CAPACITY: usize = 64 * 1024;
/// The most one send submits (the SQE's length is 32 bits).
const MAX_SEND: usize = 1 << 30;

/// [`UConn::flags`] (besides the shared [`PAUSED`](crate::conn::PAUSED),
/// [`READ_CLOSED`](crate::conn::READ_CLOSED) and
/// [`CLOSE_AFTER_FLUSH`]): closed for the service; the slot waits for its
/// requests to complete.
pub(crate) const CLOSED: u8 = 0x80;

/// [`UConn::ops`]: the multishot receive is armed (until its last
/// completion, the one without `F_MORE`).
pub(crate) const RECV_ARMED: u8 = 1;
/// [`UConn::ops`]: a cancel of the receive was submitted.
pub(crate) const RECV_CANCELLING: u8 = 2;
/// [`UConn::ops`]: a send is in flight.
pub(crate) const SEND_IN_FLIGHT: u8 = 4;
/// [`UConn::ops`]: a poll for writability is armed.
pub(crate) const POLL_ARMED: u8 = 8;
/// [`UConn::ops`]: the receive ended for want of buffers; it is re-armed
/// once buffers came back (after the current batch of completions).
pub(crate) const STARVED: u8 = 16;

/// The requests that hold the connection's slot (and descriptor).
pub(crate) const IN_FLIGHT: u8 = RECV_ARMED | SEND_IN_FLIGHT | POLL_ARMED;

/// A connection of the io_uring engine, as a [`Conn`](crate::Conn) holds
/// it: the connection and the engine's [`Io`].
pub(crate) struct UringConn<'a> {
    c: &'a mut UConn,
    io: &'a mut Io,
}

impl<'a> UringConn<'a> {
    #[inline]
    pub(crate) fn new(c: &'a mut UConn, io: &'a mut Io) -> UringConn<'a> {
        UringConn { c, io }
    }
}

impl EngineConn for UringConn<'_> {
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
        self.c.send(self.io, data);
    }

    #[inline]
    fn close(&mut self) {
        self.c.flags |= CLOSE_AFTER_FLUSH;
    }
}

/// What a [`Conn`](crate::Conn) of this engine needs besides its
/// connection: the ring to submit to and the receive buffer being handed
/// to the service.
pub(crate) struct Io {
    pub(crate) ring: Ring,
    /// The receive buffer group.
    pub(crate) bgid: u16,
    /// Sends submitted since the last enter: each completes within the
    /// enter that submits it, so that enter waits for them plus one event.
    pub(crate) expect: u32,
    /// [`Ring::early_submits`] as the last wait saw it.
    pub(crate) early_seen: u64,
    /// Requests in flight whose completion the engine still expects.
    pub(crate) inflight: usize,
    /// The receive buffer whose bytes the service is being handed.
    pub(crate) cur: Option<Cur>,
}

/// See [`Io::cur`].
#[derive(Clone, Copy)]
pub(crate) struct Cur {
    pub(crate) bid: u16,
    /// Where the bytes start in the buffer (0 but on an incremental ring).
    pub(crate) start: u32,
    /// The bytes handed to the service: address and length.
    pub(crate) addr: usize,
    pub(crate) len: usize,
    /// A zero-copy send took the buffer: it goes back to the ring when the
    /// send completes, not after the callback.
    pub(crate) held: bool,
}

impl Io {
    /// Queues `entry`.
    ///
    /// # Safety
    ///
    /// What the request names (buffer, descriptor) must stay valid until
    /// its last completion.
    #[inline]
    pub(crate) unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: forwarded from the caller.
        unsafe { self.ring.push(entry) }
    }
}

/// A zero-copy send in flight: bytes `off..off + len` of receive buffer
/// `bid`. Eight bytes, and `Option<Zc>` too (`len` is never zero): with
/// the descriptor read from the stream rather than kept twice, a
/// connection is 104 bytes instead of 120, 160 KB less at 10,000
/// connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Zc {
    pub(crate) bid: u16,
    pub(crate) off: u16,
    pub(crate) len: NonZeroU32,
}

impl Zc {
    /// The bytes sent.
    #[inline]
    pub(crate) fn len(self) -> usize {
        self.len.get() as usize
    }

    /// Where they end in the buffer.
    #[inline]
    pub(crate) fn end(self) -> usize {
        usize::from(self.off) + self.len()
    }
}

/// A connection's output that is not a zero-copy send.
#[derive(Debug, Default)]
struct Backlog {
    /// The send in flight, or waiting for room: `out[out_pos..]`.
    out: Vec<u8>,
    out_pos: usize,
    /// Given while `out` or a zero-copy send is in flight.
    queued: Vec<u8>,
}

/// One connection of the io_uring engine.
#[derive(Debug)]
pub(crate) struct UConn {
    /// Closed (dropped) only once no request uses the descriptor.
    stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) slot: u32,
    pub(crate) gen: u32,
    /// `PAUSED`, `READ_CLOSED`, `CLOSE_AFTER_FLUSH` (the flags both
    /// engines keep) and [`CLOSED`].
    pub(crate) flags: u8,
    /// The requests in flight: [`RECV_ARMED`], [`SEND_IN_FLIGHT`], ...
    pub(crate) ops: u8,
    pub(crate) zc: Option<Zc>,
    /// Bytes that are not a zero-copy send; boxed, and only while there
    /// are some, so that an echoing connection stays small (memory at
    /// 10,000 connections).
    backlog: Option<Box<Backlog>>,
    pub(crate) error: Option<io::Error>,
    pub(crate) last_active: Option<Instant>,
    pub(crate) linger_until: Option<Instant>,
}

impl UConn {
    pub(crate) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        slot: u32,
        gen: u32,
        last_active: Option<Instant>,
    ) -> UConn {
        UConn {
            stream,
            peer,
            slot,
            gen,
            flags: 0,
            ops: 0,
            zc: None,
            backlog: None,
            error: None,
            last_active,
            linger_until: None,
        }
    }

    /// The socket's descriptor (for requests).
    #[inline]
    pub(crate) fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    #[inline]
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether bytes other than a zero-copy send are queued or unsent.
    #[inline]
    pub(crate) fn has_backlog(&self) -> bool {
        self.backlog.is_some()
    }

    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    #[inline]
    pub(crate) fn ud(&self, kind: u8) -> Ud {
        Ud::new(kind, self.slot, self.gen)
    }

    /// Bytes given and not yet sent (in flight included).
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        self.zc.map_or(0, Zc::len)
            + self
                .backlog
                .as_ref()
                .map_or(0, |b| b.out.len() - b.out_pos + b.queued.len())
    }

    /// Nothing in flight, nothing waiting for room (the poll for room,
    /// once armed, stays: what waits for it is in `backlog.out`).
    #[inline]
    fn output_idle(&self) -> bool {
        self.ops & SEND_IN_FLIGHT == 0
            && self.zc.is_none()
            && self.backlog.as_ref().map_or(true, |b| b.out.is_empty())
    }

    /// The bytes of the current (not zero-copy) send not yet sent.
    #[inline]
    pub(crate) fn unsent(&self) -> &[u8] {
        self.backlog.as_ref().map_or(&[], |b| &b.out[b.out_pos..])
    }

    /// Appends to the current send's bytes (only while none is in flight:
    /// a short zero-copy send's rest).
    pub(crate) fn keep_unsent(&mut self, rest: &[u8]) {
        self.backlog
            .get_or_insert_with(Box::default)
            .out
            .extend_from_slice(rest);
    }

    /// `n` bytes of the current send went out; the backlog is freed once
    /// empty.
    pub(crate) fn consume(&mut self, n: usize) {
        let Some(b) = &mut self.backlog else {
            return;
        };
        b.out_pos += n;
        if b.out_pos >= b.out.len() {
            b.out_pos = 0;
            if b.out.capacity() > KEEP_OUT_CAPACITY {
                b.out = Vec::new();
            } else {
                b.out.clear();
            }
            if b.queued.is_empty() {
                self.backlog = None;
            }
        }
    }

    /// Drops what was given but not submitted (the connection closed).
    pub(crate) fn drop_queued(&mut self) {
        if let Some(b) = &mut self.backlog {
            b.queued = Vec::new();
        }
    }

    /// [`Conn::send`](crate::Conn::send) on this engine.
    #[inline]
    pub(crate) fn send(&mut self, io: &mut Io, data: &[u8]) {
        if data.is_empty() || self.error.is_some() || self.has(CLOSED) {
            return;
        }
        if !self.output_idle() {
            self.backlog
                .get_or_insert_with(Box::default)
                .queued
                .extend_from_slice(data);
            return;
        }
        let addr = data.as_ptr() as usize;
        let zc = match io.cur.as_mut() {
            Some(cur) if !cur.held => {
                // `data` lies inside the buffer (one compare each way, no
                // overflow: `data.len() <= cur.len` is checked first).
                let off = addr.wrapping_sub(cur.addr);
                let fits = data.len() <= cur.len && off <= cur.len - data.len();
                // (`Zc` keeps the offset in 16 bits, the size of an echoing
                // connection: bytes further into a bigger buffer are copied.)
                match (
                    fits,
                    u16::try_from(cur.start as usize + off),
                    NonZeroU32::new(data.len() as u32),
                ) {
                    (true, Ok(off), Some(len)) => {
                        cur.held = true;
                        Some(Zc {
                            bid: cur.bid,
                            off,
                            len,
                        })
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(zc) = zc {
            self.zc = Some(zc);
            // SAFETY: the bytes are in receive buffer `bid`, which stays with
            // the program (`held`) until this send completes.
            if let Err(e) = unsafe { self.submit(io, data.as_ptr(), data.len()) } {
                // Not submitted: the buffer goes back after the callback.
                if let Some(cur) = &mut io.cur {
                    cur.held = false;
                }
                self.zc = None;
                self.error = Some(e);
            }
            return;
        }
        self.keep_unsent(data);
        self.send_out(io);
    }

    /// Submits a send of the current send's unsent bytes (at most
    /// [`MAX_SEND`]).
    pub(crate) fn send_out(&mut self, io: &mut Io) {
        let rest = self.unsent();
        let (ptr, len) = (rest.as_ptr(), rest.len().min(MAX_SEND));
        // SAFETY: `out` is neither changed nor dropped while a send is in
        // flight (`SEND_IN_FLIGHT`; new bytes go to `queued`; the backlog is
        // freed only once it is empty, and the slot once no request is in
        // flight).
        if let Err(e) = unsafe { self.submit(io, ptr, len) } {
            self.error = Some(e);
        }
    }

    /// Makes `queued` the next send, if there is one.
    pub(crate) fn send_queued(&mut self, io: &mut Io) -> bool {
        let Some(b) = &mut self.backlog else {
            return false;
        };
        if b.queued.is_empty() {
            return false;
        }
        std::mem::swap(&mut b.out, &mut b.queued);
        b.out_pos = 0;
        self.send_out(io);
        true
    }

    /// Arms the poll for room after a short send, unless it is armed (it
    /// is multishot: a wake-up with room after this short send completes
    /// it again).
    pub(crate) fn poll_out(&mut self, io: &mut Io) {
        if self.ops & POLL_ARMED != 0 {
            return;
        }
        let e = ops::poll_out(self.fd(), self.ud(ops::POLL_OUT));
        // SAFETY: the request names only the descriptor, which is closed
        // only once no request is in flight.
        match unsafe { io.push(&e) } {
            Ok(()) => {
                self.ops |= POLL_ARMED;
                io.inflight += 1;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// # Safety
    ///
    /// `len` bytes at `ptr` stay valid and unchanged until the send's
    /// completion.
    unsafe fn submit(&mut self, io: &mut Io, ptr: *const u8, len: usize) -> io::Result<()> {
        let e = ops::send(self.fd(), ptr, len as u32, self.ud(ops::SEND));
        // SAFETY: the buffer is the caller's promise; the descriptor stays
        // open while a request is in flight.
        unsafe { io.push(&e) }?;
        self.ops |= SEND_IN_FLIGHT;
        io.inflight += 1;
        io.expect += 1;
        Ok(())
    }

    /// Arms the multishot receive.
    pub(crate) fn arm_recv(&mut self, io: &mut Io) {
        let e = ops::recv_multi(self.fd(), io.bgid, self.ud(ops::RECV));
        // SAFETY: the receive writes only into the ring's buffers, which
        // live as long as the engine; the descriptor stays open while a
        // request is in flight.
        match unsafe { io.push(&e) } {
            Ok(()) => {
                self.ops |= RECV_ARMED;
                self.ops &= !STARVED;
                io.inflight += 1;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Cancels the request of kind `kind` (its last completion follows).
    pub(crate) fn cancel(&mut self, io: &mut Io, kind: u8) {
        let e = ops::cancel(self.ud(kind));
        // SAFETY: a cancel names no memory and no descriptor.
        if let Err(e) = unsafe { io.push(&e) } {
            self.error.get_or_insert(e);
        }
    }

    /// Reporter-side effect of bytes having been sent (trace and count).
    #[inline]
    pub(crate) fn report_sent(&mut self, report: &mut Reporter, bytes: &[u8]) {
        report.sent(&self.peer, bytes);
        if let Some(t) = &mut self.last_active {
            *t = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size the memory at 10,000 connections was measured with.
    #[test]
    fn a_connection_stays_small() {
        assert_eq!(std::mem::size_of::<Option<Zc>>(), 8);
        assert!(std::mem::size_of::<Option<UConn>>() <= 104);
    }
}
