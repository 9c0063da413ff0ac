//! The completion event loop: one `io_uring_enter` per iteration that
//! submits what the last batch of completions produced (sends, re-arms,
//! cancels) and waits for the next batch; then every completion is handled.
//!
//! The wait asks for "sends submitted + 1" completions. Sends are
//! `MSG_DONTWAIT`, so each completes inside the enter that submits it; the
//! one more is the next real event (data, a connection, a signal). So an
//! isolated round trip costs one system call: submit the echo, sleep until
//! the next message. A short timeout bounds that wait: a send's completion
//! can be what lets the connection go on (a short send arms the poll for
//! room; a completed one submits the bytes queued behind it), and the peer
//! may be waiting for those bytes before it sends anything that would end
//! the wait. A `push` that found the queue full and submitted early (some
//! of those completions may then be reaped already) is seen through
//! `Ring::early_submits`: the next wait asks for one completion.

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ioready::uring::{cqueue, BufRing};
use ioready::Events;
use rustix::io::Errno;

use super::conn::{
    Cur, Io, UConn, UringConn, CLOSED, POLL_ARMED, RECV_ARMED, RECV_CANCELLING, SEND_IN_FLIGHT,
    STARVED,
};
use super::deadlines::Deadlines;
use super::ops::{self, Ud};
use super::{UringServer, UringStats};
use crate::conn::{Conn, CLOSE_AFTER_FLUSH, PAUSED, READ_CLOSED};
use crate::report::ServerEvent;
use crate::time::{after, sweep_period};
use crate::Service;

/// Completions taken from the queue at a time (on the stack: 1 KiB, less
/// than a page, so no stack probe per call).
const BATCH: usize = 64;
/// The longest a wait for "sends + 1" completions lasts (see the module
/// docs): reached when a send's completion had work to follow (a short
/// send, bytes queued behind it) and nothing else happened.
const SAFETY_WAIT: Duration = Duration::from_millis(10);
/// How long the end of `run` waits for the cancelled requests' last
/// completions before it gives up on them.
const TEARDOWN: Duration = Duration::from_secs(2);

mod lifecycle;

/// Gives a receive buffer back to the ring; the kernel sees it when the
/// batch of completions in hand is done (`reap` publishes once per batch).
#[inline]
fn recycle(bufs: &mut BufRing, bid: Option<u16>) {
    if let Some(bid) = bid {
        // Only fails for a buffer the program does not hold: a bug that
        // must not take the server down.
        let _ = bufs.recycle_unpublished(bid);
    }
}

/// Nothing for `Engine::sync` to do on `c`: reading, nothing to close, no
/// error, below the output cap.
#[inline]
fn steady(c: &UConn, output_cap: usize) -> bool {
    c.flags == 0
        && c.ops & (RECV_ARMED | STARVED) != 0
        && c.ops & RECV_CANCELLING == 0
        && c.error.is_none()
        && c.pending() < output_cap
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Draining { deadline: Instant },
    Stopped,
}

/// The engine while it runs: the ring, the buffers and the connections,
/// over the [`UringServer`]'s persistent parts.
pub(crate) struct Engine<'s, S: Service> {
    srv: &'s mut UringServer<S>,
    io: Io,
    bufs: BufRing,
    conns: Vec<Option<UConn>>,
    /// The service's state of connection `i` (`Service::State`), beside
    /// `conns[i]`: made by `on_connect`, given back to `on_close` (when the
    /// connection is closed for the service, before its requests end).
    states: Vec<Option<S::State>>,
    /// Free slots, each with the generation of its last connection (the
    /// next one's is one more): kept here rather than per slot, so that a
    /// full slab carries no generation table beside it.
    free: Vec<(u32, u32)>,
    live: usize,
    /// Connections whose receive ended with `ENOBUFS`, oldest first, by
    /// slot: re-armed a few at a time as buffers come back. (No generation:
    /// a slot reused meanwhile is re-armed only if its new connection
    /// starved too, which then only comes early. Four bytes an entry: at
    /// 10,000 connections most can be waiting here.)
    starved: VecDeque<u32>,
    state: State,
    timers: Deadlines,
    accept_armed: bool,
    control_armed: bool,
    exhaustion_logged: bool,
    lingering: usize,
    /// The control selector's events.
    control_events: Events,
    /// The completion queue's size.
    cq_size: usize,
    stats: UringStats,
}

impl<'s, S: Service> Engine<'s, S> {
    pub(crate) fn new(srv: &'s mut UringServer<S>) -> io::Result<Engine<'s, S>> {
        let (ring, bufs) = super::setup(&srv.config)?;
        let ring_cq_size = ring.params().cq_entries() as usize;
        let stats = UringStats {
            single_issuer: ring.features().single_issuer,
            defer_taskrun: ring.features().defer_taskrun,
            ..UringStats::default()
        };
        Ok(Engine {
            io: Io {
                ring,
                bgid: bufs.bgid(),
                expect: 0,
                early_seen: 0,
                inflight: 0,
                cur: None,
            },
            bufs,
            srv,
            conns: Vec::new(),
            states: Vec::new(),
            free: Vec::new(),
            live: 0,
            starved: VecDeque::new(),
            state: State::Running,
            timers: Deadlines::default(),
            accept_armed: false,
            control_armed: false,
            exhaustion_logged: false,
            lingering: 0,
            control_events: Events::with_capacity(4),
            cq_size: ring_cq_size,
            stats,
        })
    }

    /// Serves until shut down; then closes everything and waits for the
    /// kernel to let go of every request.
    pub(crate) fn run(mut self) -> io::Result<UringStats> {
        self.srv
            .report
            .event(&ServerEvent::Starting(self.srv.local_addr));
        if let Some(idle) = self.srv.config.idle_timeout {
            self.timers.next_sweep = Some(after(Instant::now(), sweep_period(idle)));
        }
        self.arm_accept();
        self.arm_control();
        let result = self.serve();
        self.close_all();
        self.teardown();
        let stats = self.stats;
        if self.io.inflight > 0 {
            // The kernel never answered some requests, which name these
            // buffers and descriptors: leak them rather than free memory it
            // may still write.
            std::mem::forget(self.bufs);
            std::mem::forget(self.conns);
        }
        result.map(|()| stats)
    }

    fn serve(&mut self) -> io::Result<()> {
        loop {
            let flag = &self.srv.shutdown_requested;
            if flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::SeqCst) {
                self.begin_shutdown();
            }
            let (mut timeout, mut is_tick) = if self.has_timers() {
                // Timers first: ending a lingering close may be what
                // finishes a drain.
                self.run_timers();
                if self.state != State::Running && self.state_done() {
                    return Ok(());
                }
                let deadline = match self.state {
                    State::Draining { deadline } => Some(deadline),
                    _ => None,
                };
                self.timers.next_timeout(self.srv.config.tick, deadline)
            } else {
                (None, false)
            };
            // Sends complete inside the enter that submits them, so it
            // waits for them plus one event (see the module docs for the
            // timeout). If a full queue made `push` submit some of them
            // already, their completions may have been reaped and the count
            // is off: wait for one completion then.
            let early = self.io.ring.early_submits();
            let want = if early == self.io.early_seen {
                1 + self.io.expect
            } else {
                self.io.early_seen = early;
                1
            };
            if want > 1 && timeout.map_or(true, |t| t > SAFETY_WAIT) {
                timeout = Some(SAFETY_WAIT);
                is_tick = false;
            }
            self.srv.report.trace(&ServerEvent::Waiting);
            self.stats.enters += 1;
            match self.io.ring.submit_and_wait(want, timeout) {
                Ok(_) => self.io.expect = 0,
                // Nothing submitted: the same again next time.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Completions wait in the kernel's overflow list: reap, and
                // the next enter moves them into the queue.
                Err(e) if e.raw_os_error() == Some(Errno::BUSY.raw_os_error()) => {}
                Err(e) => return Err(e),
            }
            let (events, reaped) = self.reap();
            // The queue overflows only when it is full, so the reap then
            // took a whole queue's worth: only then is the flag worth a look.
            if reaped >= self.cq_size && self.io.ring.submission().cq_overflow() {
                self.stats.cq_overflows += 1;
            }
            if events == 0 && is_tick {
                self.srv.report.trace(&ServerEvent::TimedOut);
                self.srv.service.on_tick();
            }
            self.rearm_starved();
        }
    }

    /// Handles every completion in the queue, then publishes the receive
    /// buffers the batch gave back (one store for all); returns how many
    /// were events (anything but the completion of a send or a cancel), and
    /// how many completions it took.
    fn reap(&mut self) -> (usize, usize) {
        let mut buf = [const { MaybeUninit::<cqueue::Entry>::uninit() }; BATCH];
        let mut events = 0;
        let mut reaped = 0;
        loop {
            let n = self.io.ring.completion().fill(&mut buf).len();
            self.stats.completions += n as u64;
            for e in &buf[..n] {
                // SAFETY: `fill` initialised the first `n` entries.
                let cqe = unsafe { e.assume_init_ref() };
                events += self.dispatch(cqe.user_data(), cqe.result(), cqe.flags());
            }
            self.bufs.publish();
            // A short batch emptied the queue. Completions posted since (by
            // a submission the handlers forced) count towards the next
            // wait, which then returns at once.
            reaped += n;
            if n < BATCH {
                return (events, reaped);
            }
        }
    }

    /// One completion. The receive and the send of a connection in the
    /// steady state (the echo's round trip) are handled inline, without a
    /// call; everything else out of line.
    #[inline]
    fn dispatch(&mut self, ud: u64, res: i32, flags: u32) -> usize {
        let u = Ud::unpack(ud);
        match u.kind {
            ops::RECV => {
                if res > 0 && cqueue::more(flags) && self.recv_steady(u, res as usize, flags) {
                    return 1;
                }
                self.on_recv_slow(u, res, flags)
            }
            ops::SEND => {
                if !(res > 0 && self.sent_steady(u, res as usize)) {
                    self.on_send_slow(u, res);
                }
                0
            }
            _ => self.dispatch_other(u, res, flags),
        }
    }

    /// The receive of a connection in the steady state (reading, nothing
    /// to close, no error): its bytes to the service, the buffer back to
    /// the ring unless a send took it. False, with nothing done, for
    /// anything else.
    #[inline]
    fn recv_steady(&mut self, u: Ud, n: usize, flags: u32) -> bool {
        let i = u.slot as usize;
        let (Some(Some(c)), Some(Some(state))) = (self.conns.get_mut(i), self.states.get_mut(i))
        else {
            return false;
        };
        if c.gen != u.gen || c.flags != 0 || c.linger_until.is_some() || c.error.is_some() {
            return false;
        }
        let Ok(Some((bid, start, data))) = self.bufs.claim_buf(flags, n) else {
            return false;
        };
        if let Some(t) = &mut c.last_active {
            *t = Instant::now();
        }
        self.srv.report.received(&c.peer, data);
        self.io.cur = Some(Cur {
            bid,
            start,
            addr: data.as_ptr() as usize,
            len: data.len(),
            held: false,
        });
        self.srv
            .service
            .on_data(&mut Conn::new(UringConn::new(c, &mut self.io)), state, data);
        let held = self.io.cur.take().is_some_and(|cur| cur.held);
        if !held {
            recycle(&mut self.bufs, Some(bid));
        }
        // `sync`'s look, on the connection in hand.
        if !steady(c, self.srv.config.output_cap) {
            self.sync_slow(i);
        }
        true
    }

    /// The completion of a zero-copy send that sent everything, with
    /// nothing queued behind it, on a connection in the steady state: the
    /// buffer back to the ring. False, with nothing done, for anything else.
    #[inline]
    fn sent_steady(&mut self, u: Ud, n: usize) -> bool {
        let i = u.slot as usize;
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return false;
        };
        let Some(z) = c.zc else {
            return false;
        };
        // Nothing to close, linger or resume, no error: `sync` would find
        // nothing to do after it, so it is not called.
        if c.gen != u.gen || n != z.len() || c.has_backlog() || c.flags != 0 || c.error.is_some() {
            return false;
        }
        c.zc = None;
        c.ops &= !SEND_IN_FLIGHT;
        self.io.inflight -= 1;
        if self.srv.report.trace {
            let whole = self.bufs.buf(z.bid, z.end()).unwrap_or(&[]);
            let bytes = whole.get(usize::from(z.off)..).unwrap_or(&[]);
            self.srv.report.sent(&c.peer, bytes);
            self.srv.report.trace(&ServerEvent::QueueEmpty(c.peer));
        } else {
            self.srv.report.stats.bytes_out += n as u64;
        }
        if let Some(t) = &mut c.last_active {
            *t = Instant::now();
        }
        recycle(&mut self.bufs, Some(z.bid));
        true
    }

    /// Every completion but a steady receive or send.
    #[inline(never)]
    fn dispatch_other(&mut self, u: Ud, res: i32, flags: u32) -> usize {
        let more = cqueue::more(flags);
        match u.kind {
            ops::POLL_OUT => {
                if !more {
                    self.io.inflight -= 1;
                }
                self.on_poll_out(u, res, more);
                1
            }
            ops::ACCEPT => {
                if !more {
                    self.io.inflight -= 1;
                }
                self.on_accept(res, more);
                1
            }
            ops::CONTROL => {
                self.io.inflight -= 1;
                self.on_control(res);
                1
            }
            // A cancel's own outcome: the target's last completion says
            // what happened.
            _ => 0,
        }
    }

    #[inline(never)]
    fn on_recv_slow(&mut self, u: Ud, res: i32, flags: u32) -> usize {
        let more = cqueue::more(flags);
        if !more {
            self.io.inflight -= 1;
        }
        self.on_recv(u, res, flags, more);
        1
    }

    #[inline(never)]
    fn on_send_slow(&mut self, u: Ud, res: i32) {
        self.io.inflight -= 1;
        self.on_send(u, res);
    }

    /// The connection a completion belongs to, if it is still that one.
    fn conn_of(&mut self, u: Ud) -> Option<usize> {
        let i = u.slot as usize;
        match self.conns.get(i) {
            Some(Some(c)) if c.gen == u.gen => Some(i),
            _ => {
                self.stats.stale += 1;
                None
            }
        }
    }

    fn on_recv(&mut self, u: Ud, res: i32, flags: u32, more: bool) {
        // Whatever happens next, a buffer this completion carries is the
        // program's now and must go back to the ring.
        // (On an incremental ring the piece's place in the buffer: where
        // this completion's bytes start.)
        let (bid, start, got) = match self.bufs.claim_buf(flags, res.max(0) as usize) {
            Ok(Some((bid, start, data))) => (Some(bid), start, data.len()),
            _ => (None, 0, 0),
        };
        let Some(i) = self.conn_of(u) else {
            recycle(&mut self.bufs, bid);
            return;
        };
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        if !more {
            c.ops &= !(RECV_ARMED | RECV_CANCELLING);
            if res > 0 || res == -Errno::NOBUFS.raw_os_error() {
                self.stats.rearmed += 1;
            }
        }
        if c.has(CLOSED) {
            recycle(&mut self.bufs, bid);
            return self.release_if_done(i);
        }
        // Closing: what still arrives is discarded (as a lingering close
        // does), never handed to the service.
        let discard = c.has(CLOSE_AFTER_FLUSH) || c.linger_until.is_some();
        if res > 0 {
            let Some(bid) = bid else {
                c.error = Some(io::Error::other("receive completion without a buffer"));
                return self.sync(i);
            };
            if discard {
                recycle(&mut self.bufs, Some(bid));
                return self.sync(i);
            }
            if let Some(t) = &mut c.last_active {
                *t = Instant::now();
            }
            let data = self.bufs.buf_at(bid, start, got).unwrap_or(&[]);
            self.srv.report.received(&c.peer, data);
            self.io.cur = Some(Cur {
                bid,
                start,
                addr: data.as_ptr() as usize,
                len: data.len(),
                held: false,
            });
            if let Some(Some(state)) = self.states.get_mut(i) {
                self.srv.service.on_data(
                    &mut Conn::new(UringConn::new(c, &mut self.io)),
                    state,
                    data,
                );
            }
            let held = self.io.cur.take().is_some_and(|cur| cur.held);
            if !held {
                recycle(&mut self.bufs, Some(bid));
            }
        } else {
            recycle(&mut self.bufs, bid);
            match -res {
                // The peer closed while we linger: the close is ours
                // (`Done`), as on the readiness engine.
                0 if c.linger_until.is_some() => return self.close(i, None),
                0 => {
                    c.flags |= READ_CLOSED;
                    if let (false, Some(Some(state))) = (discard, self.states.get_mut(i)) {
                        self.srv
                            .service
                            .on_read_closed(&mut Conn::new(UringConn::new(c, &mut self.io)), state);
                    }
                }
                e if e == Errno::NOBUFS.raw_os_error() => {
                    // The ring ran dry: the data waits in the socket. Re-arm
                    // once this batch has given its buffers back.
                    self.stats.buffers_ran_out += 1;
                    c.ops |= STARVED;
                    self.starved.push_back(i as u32);
                }
                e if e == Errno::CANCELED.raw_os_error() => {}
                e => c.error = Some(io::Error::from_raw_os_error(e)),
            }
        }
        self.sync(i);
    }

    fn on_send(&mut self, u: Ud, res: i32) {
        let Some(i) = self.conn_of(u) else {
            return;
        };
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        c.ops &= !SEND_IN_FLIGHT;
        let sent = if res >= 0 {
            Some(res as usize)
        } else if res == -Errno::AGAIN.raw_os_error() {
            Some(0)
        } else {
            c.error
                .get_or_insert_with(|| io::Error::from_raw_os_error(-res));
            None
        };
        if let Some(z) = c.zc.take() {
            if let Some(n) = sent {
                let whole = self.bufs.buf(z.bid, z.end()).unwrap_or(&[]);
                let bytes = whole.get(usize::from(z.off)..).unwrap_or(&[]);
                let n = n.min(bytes.len());
                c.report_sent(&mut self.srv.report, &bytes[..n]);
                if n < bytes.len() && !c.has(CLOSED) {
                    // Short: the rest is copied out so the shared buffer
                    // goes back now, whatever the client does.
                    c.keep_unsent(&bytes[n..]);
                }
            }
            recycle(&mut self.bufs, Some(z.bid));
        } else if let Some(n) = sent {
            let n = n.min(c.unsent().len());
            let (peer, report) = (c.peer, &mut self.srv.report);
            report.sent(&peer, &c.unsent()[..n]);
            if let Some(t) = &mut c.last_active {
                *t = Instant::now();
            }
            c.consume(n);
        }
        if c.has(CLOSED) {
            return self.release_if_done(i);
        }
        if sent.is_some() && c.error.is_none() {
            if !c.unsent().is_empty() {
                c.poll_out(&mut self.io);
            } else if !c.send_queued(&mut self.io) {
                self.srv.report.trace(&ServerEvent::QueueEmpty(c.peer));
            }
        }
        self.sync(i);
    }

    /// A completion of the multishot poll for room (see `ops::poll_out`):
    /// one that says room (or an error) sends what waits, if no send is in
    /// flight; one with nothing else (`POLLRDHUP` of a half-closed peer)
    /// is ignored. Its last one (`!more`) re-arms it if bytes still wait.
    fn on_poll_out(&mut self, u: Ud, res: i32, more: bool) {
        let Some(i) = self.conn_of(u) else {
            return;
        };
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        if !more {
            c.ops &= !POLL_ARMED;
        }
        if c.has(CLOSED) {
            return self.release_if_done(i);
        }
        let room = res < 0 || res & ops::POLL_ROOM != 0;
        let waiting = !c.unsent().is_empty() && c.error.is_none() && c.ops & SEND_IN_FLIGHT == 0;
        if waiting {
            if room {
                c.send_out(&mut self.io);
            } else if !more {
                c.poll_out(&mut self.io);
            }
        }
        self.sync(i);
    }

    /// After anything happened to connection `i`: closes it if it is done,
    /// lingers if it is flushed and closing, pauses or resumes reading for
    /// backpressure, and arms or cancels its receive accordingly. Inline, the
    /// look that finds nothing to do (the steady state of an echo).
    #[inline]
    fn sync(&mut self, i: usize) {
        if let Some(c) = &self.conns[i] {
            if steady(c, self.srv.config.output_cap) {
                return;
            }
        }
        self.sync_slow(i);
    }

    #[inline(never)]
    fn sync_slow(&mut self, i: usize) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        if c.has(CLOSED) {
            return;
        }
        let pending = c.pending();
        if c.error.is_some() || (pending == 0 && c.has(READ_CLOSED)) {
            return self.close(i, None);
        }
        if pending == 0 && c.has(CLOSE_AFTER_FLUSH) && c.linger_until.is_none() {
            return self.linger(i);
        }
        let cap = self.srv.config.output_cap;
        if c.has(PAUSED) {
            if pending <= cap / 2 {
                c.flags &= !PAUSED;
            }
        } else if pending >= cap {
            c.flags |= PAUSED;
        }
        let reading =
            c.flags & (PAUSED | READ_CLOSED | CLOSE_AFTER_FLUSH) == 0 || c.linger_until.is_some();
        if reading {
            if c.ops & (RECV_ARMED | STARVED) == 0 {
                c.arm_recv(&mut self.io);
            }
        } else if c.ops & RECV_ARMED != 0 && c.ops & RECV_CANCELLING == 0 {
            c.ops |= RECV_CANCELLING;
            c.cancel(&mut self.io, ops::RECV);
        }
        if c.error.is_some() {
            self.close(i, None);
        }
    }

    /// Re-arms receives that ran out of buffers, oldest first, as many as
    /// half the buffers now free (on an incremental ring, where a buffer
    /// takes several receives, one per 256 bytes of them): re-arming them all at once would only
    /// make most fail again (with 10,000 connections and 512 buffers, each
    /// loop would post and re-arm thousands of `ENOBUFS`). The others keep
    /// their data in the socket until their turn.
    #[inline]
    fn rearm_starved(&mut self) {
        if self.starved.is_empty() {
            return;
        }
        self.rearm_starved_slow();
    }

    #[inline(never)]
    fn rearm_starved_slow(&mut self) {
        let mut free = usize::from(self.bufs.entries()).saturating_sub(self.bufs.handed_out());
        if self.bufs.is_incremental() {
            free *= (self.bufs.buf_len() as usize / 256).max(1);
        }
        let mut budget = (free / 2).max(usize::from(free > 0));
        while budget > 0 {
            let Some(slot) = self.starved.pop_front() else {
                return;
            };
            let i = slot as usize;
            match self.conns[i].as_mut() {
                Some(c) if c.ops & STARVED != 0 => {
                    c.ops &= !STARVED;
                    budget -= 1;
                }
                _ => continue,
            }
            self.sync(i);
        }
    }
}
