//! The life of connections and of the server on the io_uring engine:
//! accept (and its back-off), the control reads (signals, the shutdown
//! handle), closing (lingering, cancelling, freeing the slot once the kernel
//! is done), the timers, shutdown and the final teardown.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rustix::io::Errno;

use super::{Engine, State, TEARDOWN};
use crate::conn::{Conn, CLOSE_AFTER_FLUSH, READ_CLOSED};
use crate::control::{signal_request, SignalRequest, SIGNALS, WAKER};
use crate::net::is_resource_exhaustion;
use crate::report::{CloseReason, ServerEvent};
use crate::time::{after, sweep_period};
use crate::uring::conn::{
    UConn, UringConn, CLOSED, IN_FLIGHT, POLL_ARMED, RECV_ARMED, RECV_CANCELLING,
};
use crate::uring::ops::{self, Ud, MAX_SLOTS};
use crate::{Config, Service};

impl<S: Service> Engine<'_, S> {
    pub(super) fn on_accept(&mut self, res: i32, more: bool) {
        if !more {
            self.accept_armed = false;
        }
        if res >= 0 {
            // SAFETY: the kernel just created this descriptor for us; no one
            // else owns it.
            let stream = unsafe { TcpStream::from_raw_fd(res) };
            self.exhaustion_logged = false;
            if self.state == State::Running {
                self.add(stream);
            }
        } else {
            let e = io::Error::from_raw_os_error(-res);
            if -res == Errno::CANCELED.raw_os_error() {
            } else if is_resource_exhaustion(&e) {
                let backoff = self.srv.config.accept_backoff;
                if !self.exhaustion_logged {
                    self.srv
                        .report
                        .event(&ServerEvent::AcceptPaused(&e, backoff));
                    self.exhaustion_logged = true;
                }
                self.pause_accept(backoff);
            } else if !matches!(
                Errno::from_raw_os_error(-res),
                Errno::INTR | Errno::CONNABORTED | Errno::AGAIN
            ) {
                self.srv.report.event(&ServerEvent::AcceptFailed(&e));
                // Not again at once: an error that repeats must not spin.
                self.pause_accept(self.srv.config.accept_backoff);
            }
        }
        if !self.accept_armed {
            if self.state != State::Running {
                // Stopping: the listener closes once no request uses it.
                self.srv.listener = None;
            } else if self.timers.accept_paused_until.is_none() {
                self.stats.rearmed += 1;
                self.arm_accept();
            }
        }
    }

    pub(super) fn pause_accept(&mut self, backoff: Duration) {
        self.timers.accept_paused_until = Some(after(Instant::now(), backoff));
        if self.accept_armed {
            // SAFETY: a cancel names no memory and no descriptor.
            let _ = unsafe { self.io.push(&ops::cancel(Ud::new(ops::ACCEPT, 0, 0))) };
        }
    }

    /// The control selector is readable: a signal or the shutdown handle.
    pub(super) fn on_control(&mut self, res: i32) {
        self.control_armed = false;
        if res < 0 {
            // Cancelled at the end.
            return;
        }
        if self
            .srv
            .control
            .select(&mut self.control_events, Some(Duration::ZERO))
            .is_ok()
        {
            let (mut wake, mut signals) = (false, false);
            for ev in self.control_events.iter() {
                match ev.token() {
                    WAKER => wake = true,
                    SIGNALS => signals = true,
                    _ => {}
                }
            }
            for token in [wake.then_some(WAKER), signals.then_some(SIGNALS)]
                .into_iter()
                .flatten()
            {
                match token {
                    WAKER if self.srv.shutdown_requested.swap(false, Ordering::SeqCst) => {
                        self.begin_shutdown();
                    }
                    SIGNALS => {
                        let draining = matches!(self.state, State::Draining { .. });
                        match signal_request(self.srv.signals.as_ref(), draining) {
                            SignalRequest::None => {}
                            SignalRequest::Shutdown => self.begin_shutdown(),
                            SignalRequest::Stop => self.state = State::Stopped,
                        }
                    }
                    _ => {}
                }
            }
        }
        if self.state != State::Stopped {
            self.arm_control();
        }
    }

    pub(super) fn arm_accept(&mut self) {
        let Some(l) = &self.srv.listener else {
            return;
        };
        // SAFETY: the request names only the listener, which is closed only
        // after its last completion (`on_accept`).
        match unsafe { self.io.push(&ops::accept_multi(l.as_raw_fd())) } {
            Ok(()) => {
                self.accept_armed = true;
                self.io.inflight += 1;
            }
            Err(e) => {
                self.srv.report.event(&ServerEvent::AcceptFailed(&e));
                self.timers.accept_paused_until =
                    Some(after(Instant::now(), self.srv.config.accept_backoff));
            }
        }
    }

    /// Arms the poll of the control selector.
    pub(super) fn arm_control(&mut self) {
        let Ok(fd) = self.srv.control.try_as_fd() else {
            return;
        };
        // SAFETY: the request names only the control selector's descriptor,
        // which the server owns beyond the engine's end (the request is
        // cancelled and answered before that).
        if unsafe { self.io.push(&ops::poll_in(fd.as_raw_fd(), ops::CONTROL)) }.is_ok() {
            self.io.inflight += 1;
            self.control_armed = true;
        }
    }

    pub(super) fn add(&mut self, stream: TcpStream) {
        // The peer may be gone already (reset before we looked): nothing to
        // serve then.
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        if self.live >= self.srv.config.max_conns {
            drop(stream);
            return self.srv.report.rejected(peer, self.srv.config.max_conns);
        }
        if self.srv.config.nodelay {
            // Not fatal: a connection without it is only slower.
            let _ = stream.set_nodelay(true);
        }
        // A reused slot's generation follows its last connection's.
        let (i, gen) = match self.free.pop() {
            Some((i, gen)) => (i as usize, gen.wrapping_add(1)),
            None if self.conns.len() < MAX_SLOTS => {
                self.conns.push(None);
                self.states.push(None);
                (self.conns.len() - 1, 1)
            }
            None => return,
        };
        let last_active = self.srv.config.idle_timeout.map(|_| Instant::now());
        self.live += 1;
        self.srv.report.stats.accepted += 1;
        self.srv.report.trace(&ServerEvent::Accepted(peer));
        let c = self.conns[i].insert(UConn::new(stream, peer, i as u32, gen, last_active));
        let state = self
            .srv
            .service
            .on_connect(&mut Conn::new(UringConn::new(c, &mut self.io)));
        self.states[i] = Some(state);
        self.sync(i);
    }

    /// The lingering close of the readiness engine (its
    /// `Loop::linger`): unread input is discarded, our writing
    /// side shut down (the peer sees end of file after the last byte) and
    /// input discarded until the peer closes or the grace (at most
    /// [`Config::MAX_LINGER`]) passes, so that no byte arriving after the
    /// close makes the kernel reset the connection under echoed bytes the
    /// peer has not read. The few reads here are direct system calls: a
    /// close is rare, the data path is not.
    pub(super) fn linger(&mut self, i: usize) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        let mut scratch = [0u8; 4096];
        for _ in 0..8 {
            match rustix::net::recv(c.stream(), &mut scratch, rustix::net::RecvFlags::DONTWAIT) {
                // The peer closed too. Reported as the close it is (ours,
                // `Done`), not as the peer's end of file.
                Ok((0, _)) => return self.close(i, None),
                Ok(_) | Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    c.error = Some(e.into());
                    return self.close(i, None);
                }
            }
        }
        if let Err(e) = c.stream().shutdown(std::net::Shutdown::Write) {
            c.error = Some(e);
            return self.close(i, None);
        }
        let linger = self.srv.config.shutdown_grace.min(Config::MAX_LINGER);
        let until = after(Instant::now(), linger);
        c.linger_until = Some(until);
        self.lingering += 1;
        let next = &mut self.timers.next_linger_check;
        *next = Some(next.map_or(until, |t| t.min(until)));
        self.sync(i);
    }

    /// Closes connection `i` for the service: reported now, its requests
    /// cancelled, its descriptor closed and its slot freed once the last of
    /// them has completed.
    pub(super) fn close(&mut self, i: usize, forced: Option<CloseReason<'_>>) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        if c.has(CLOSED) {
            return;
        }
        c.flags |= CLOSED;
        self.live -= 1;
        if c.linger_until.is_some() {
            self.lingering -= 1;
        }
        let reason = match (&forced, &c.error) {
            (Some(CloseReason::Idle), _) => CloseReason::Idle,
            (Some(CloseReason::Shutdown(n)), _) => CloseReason::Shutdown(*n),
            (_, Some(e)) => CloseReason::Error(e),
            _ if c.has(READ_CLOSED) => CloseReason::Eof,
            // Closed by the drain, everything sent.
            _ if matches!(self.state, State::Draining { .. }) => CloseReason::Shutdown(0),
            _ => CloseReason::Done,
        };
        self.srv.report.trace(&ServerEvent::Closed(c.peer, reason));
        if let Some(state) = self.states[i].take() {
            self.srv.service.on_close(c.peer, state, &reason);
        }
        if c.ops & RECV_ARMED != 0 && c.ops & RECV_CANCELLING == 0 {
            c.ops |= RECV_CANCELLING;
            c.cancel(&mut self.io, ops::RECV);
        }
        if c.ops & POLL_ARMED != 0 {
            c.cancel(&mut self.io, ops::POLL_OUT);
        }
        c.drop_queued();
        self.release_if_done(i);
    }

    /// Frees the slot of a closed connection once no request uses it (its
    /// descriptor is closed then, so the number cannot be reused before).
    pub(super) fn release_if_done(&mut self, i: usize) {
        if let Some(c) = &self.conns[i] {
            if c.has(CLOSED) && c.ops & IN_FLIGHT == 0 {
                self.free.push((i as u32, c.gen));
                self.conns[i] = None;
            }
        }
    }

    pub(super) fn state_done(&mut self) -> bool {
        match self.state {
            State::Running => false,
            State::Stopped => true,
            State::Draining { deadline } => self.live == 0 || Instant::now() >= deadline,
        }
    }

    #[inline]
    pub(super) fn has_timers(&self) -> bool {
        self.srv.config.tick.is_some() || self.timers.any() || self.state != State::Running
    }

    /// Resumes accepting after a pause, closes idle connections and ends
    /// lingering closes whose time is up (before each wait).
    #[inline(never)]
    pub(super) fn run_timers(&mut self) {
        if !self.timers.any() {
            return;
        }
        let now = Instant::now();
        if self.timers.next_linger_check.is_some_and(|t| now >= t) {
            let mut next: Option<Instant> = None;
            for i in 0..self.conns.len() {
                let Some(c) = self.conns[i].as_ref().filter(|c| !c.has(CLOSED)) else {
                    continue;
                };
                let Some(until) = c.linger_until else {
                    continue;
                };
                if now >= until {
                    self.close(i, None);
                } else {
                    next = Some(next.map_or(until, |t| t.min(until)));
                }
            }
            self.timers.next_linger_check = next;
        }
        if self.timers.accept_paused_until.is_some_and(|t| now >= t) {
            self.timers.accept_paused_until = None;
            if self.state == State::Running && !self.accept_armed {
                self.stats.rearmed += 1;
                self.arm_accept();
            }
        }
        if let (Some(at), Some(idle)) = (self.timers.next_sweep, self.srv.config.idle_timeout) {
            if now >= at {
                for i in 0..self.conns.len() {
                    let expired = self.conns[i]
                        .as_ref()
                        .filter(|c| !c.has(CLOSED))
                        .and_then(|c| c.last_active)
                        .is_some_and(|t| now.duration_since(t) >= idle);
                    if expired {
                        self.close(i, Some(CloseReason::Idle));
                    }
                }
                self.timers.next_sweep = Some(after(now, sweep_period(idle)));
            }
        }
    }

    /// Stops accepting: the accept is cancelled (the listener closes after
    /// its last completion) or, if none is armed, the listener closes now.
    pub(super) fn stop_accepting(&mut self) {
        if self.accept_armed {
            // SAFETY: a cancel names no memory and no descriptor.
            let _ = unsafe { self.io.push(&ops::cancel(Ud::new(ops::ACCEPT, 0, 0))) };
        } else {
            self.srv.listener = None;
        }
    }

    pub(super) fn begin_shutdown(&mut self) {
        if self.state != State::Running {
            return;
        }
        self.state = State::Draining {
            deadline: after(Instant::now(), self.srv.config.shutdown_grace),
        };
        self.stop_accepting();
        self.timers.accept_paused_until = None;
        let mut pending = 0;
        for i in 0..self.conns.len() {
            if let Some(c) = self.conns[i].as_mut().filter(|c| !c.has(CLOSED)) {
                pending += c.pending();
                c.flags |= CLOSE_AFTER_FLUSH;
                self.sync(i);
            }
        }
        self.srv.report.event(&ServerEvent::ShuttingDown {
            conns: self.live,
            pending,
        });
    }

    /// Closes every connection (what is still queued is counted as
    /// unsent), stops accepting and the control reads.
    pub(super) fn close_all(&mut self) {
        self.state = State::Stopped;
        self.stop_accepting();
        for i in 0..self.conns.len() {
            if let Some(c) = self.conns[i].as_ref().filter(|c| !c.has(CLOSED)) {
                let left = c.pending();
                self.srv.report.stats.unsent_at_shutdown += left as u64;
                self.close(i, Some(CloseReason::Shutdown(left)));
            }
        }
        if self.control_armed {
            // SAFETY: a cancel names no memory and no descriptor.
            let _ = unsafe { self.io.push(&ops::cancel(Ud::new(ops::CONTROL, 0, 0))) };
        }
    }

    /// Waits (bounded) until the kernel has answered every request, so that
    /// no buffer or descriptor is freed under it.
    pub(super) fn teardown(&mut self) {
        let deadline = Instant::now() + TEARDOWN;
        while self.io.inflight > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.io.ring.submit_and_wait(1, Some(left)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(Errno::BUSY.raw_os_error()) => {}
                Err(_) => break,
            }
            self.reap();
        }
        self.srv.listener = None;
    }
}
