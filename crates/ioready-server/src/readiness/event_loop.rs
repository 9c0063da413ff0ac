//! The readiness event loop: everything a [`Server`](crate::Server) does
//! between two waits. One state machine over one struct, [`Loop`], read
//! best whole (like redis's `ae.c`): the token layout, dispatch, accept,
//! connection events, interest changes, lingering close, close, the timers
//! and shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ioready::{Event, Events, Interest, Registry, Signal, Signals, Token};
use rustix::io::Errno;

use super::conn::{flush, ReadyConn};
use super::slot::ConnState;
use super::timers::{self, Timers};
use crate::conn::{Conn, CLOSE_AFTER_FLUSH, PAUSED, READ_CLOSED};
use crate::control::{signal_request, SignalRequest, SIGNALS, WAKER};
use crate::net::is_resource_exhaustion;
use crate::report::{CloseReason, Reporter, ServerEvent};
use crate::time::{after, sweep_period};
use crate::{Config, Service};

/// The listener's token (then the shared control tokens,
/// [`WAKER`] and [`SIGNALS`]).
const LISTENER: Token = Token(0);
/// The timers, in the order of [`Timers::new`].
const FIRST_TIMER: usize = 3;
const TICK: Token = Token(FIRST_TIMER);
const SWEEP: Token = Token(FIRST_TIMER + 1);
const ACCEPT_RESUME: Token = Token(FIRST_TIMER + 2);
const LINGER_END: Token = Token(FIRST_TIMER + 3);
const DRAIN_END: Token = Token(FIRST_TIMER + 4);
/// Connection `i` of the slab has token `FIRST_CONN + i`.
const FIRST_CONN: usize = FIRST_TIMER + timers::COUNT;

#[inline]
fn conn_token(i: usize) -> Token {
    Token(FIRST_CONN + i)
}

#[inline]
fn conn_index(t: Token) -> usize {
    t.0 - FIRST_CONN
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// Flushing before the end; [`DRAIN_END`] ends the grace.
    Draining,
    Stopped,
}

/// Everything but the selector and its event buffer (so events can be read
/// while the rest is changed).
pub(crate) struct Loop<S: Service> {
    pub(crate) config: Config,
    registry: Registry,
    listener: Option<TcpListener>,
    listener_registered: bool,
    pub(crate) local_addr: SocketAddr,
    conns: Vec<Option<ConnState>>,
    /// The service's state of connection `i` (`Service::State`), beside
    /// `conns[i]`: made by `on_connect`, given back to `on_close`.
    states: Vec<Option<S::State>>,
    free: Vec<usize>,
    pub(crate) live: usize,
    read_buf: Box<[u8]>,
    pub(crate) service: S,
    pub(crate) report: Reporter,
    /// Set by a [`ShutdownHandle`](crate::ShutdownHandle).
    pub(crate) shutdown_requested: Arc<AtomicBool>,
    signals: Option<Signals>,
    state: State,
    timers: Timers,
    /// An `AcceptPaused` warning was given and no accept succeeded since.
    exhaustion_logged: bool,
    /// Connections in a lingering close.
    lingering: usize,
}

impl<S: Service> Loop<S> {
    /// A loop serving `listener`, registered with `registry` (as are the
    /// signals, when `config.handle_signals`, the timers, and the caller's
    /// waker).
    pub(crate) fn new(
        config: Config,
        registry: Registry,
        listener: TcpListener,
        service: S,
    ) -> io::Result<Loop<S>> {
        let local_addr = listener.local_addr()?;
        registry.register(&listener, LISTENER, Interest::READABLE)?;
        let signals = if config.handle_signals {
            Some(Signals::new(
                &registry,
                SIGNALS,
                &[Signal::INT, Signal::TERM],
            )?)
        } else {
            None
        };
        let timers = Timers::new(
            &registry,
            FIRST_TIMER,
            config.tick,
            config.idle_timeout.map(sweep_period),
        )?;
        let read_buf = vec![0u8; config.read_buffer].into_boxed_slice();
        Ok(Loop {
            report: Reporter::new(config.trace),
            config,
            registry,
            listener: Some(listener),
            listener_registered: true,
            local_addr,
            conns: Vec::new(),
            states: Vec::new(),
            free: Vec::new(),
            live: 0,
            read_buf,
            service,
            shutdown_requested: Arc::new(AtomicBool::new(false)),
            signals,
            state: State::Running,
            timers,
            exhaustion_logged: false,
            lingering: 0,
        })
    }

    /// Reports the start.
    pub(crate) fn start(&mut self) {
        self.report.event(&ServerEvent::Starting(self.local_addr));
    }

    /// What to do before the next wait: false when the loop is done. The
    /// wait itself always blocks: every deadline is a timer event.
    #[inline]
    pub(crate) fn prepare_wait(&mut self) -> bool {
        // A cheap look first: the swap is a locked instruction.
        if self.shutdown_requested.load(Ordering::Relaxed)
            && self.shutdown_requested.swap(false, Ordering::SeqCst)
        {
            self.begin_shutdown();
        }
        if self.state != State::Running || self.timers.tick.is_some() {
            if self.state_done() {
                return false;
            }
            self.timers.rearm_tick();
        }
        self.report.trace(&ServerEvent::Waiting);
        true
    }

    /// Handles the events of one wait.
    #[inline]
    pub(crate) fn dispatch_all(&mut self, events: &Events) {
        for ev in events.iter() {
            let t = ev.token();
            if t.0 >= FIRST_CONN {
                self.conn_event(conn_index(t), ev);
            } else {
                self.control_event(t, events.len());
            }
        }
    }

    fn state_done(&mut self) -> bool {
        match self.state {
            State::Running => false,
            State::Stopped => true,
            // Every connection closes by itself once flushed (and, if the
            // peer was still sending, once it saw our end of file).
            // The grace's end is the `DRAIN_END` timer's event.
            State::Draining => self.live == 0,
        }
    }

    /// The listener, the waker, the signals and the timers (`in_wait`: how
    /// many events the wait reported, this one included).
    #[inline(never)]
    fn control_event(&mut self, token: Token, in_wait: usize) {
        match token {
            LISTENER => self.accept_all(),
            WAKER if self.shutdown_requested.swap(false, Ordering::SeqCst) => {
                self.begin_shutdown();
            }
            SIGNALS => match signal_request(self.signals.as_ref(), self.state == State::Draining) {
                SignalRequest::None => {}
                SignalRequest::Shutdown => self.begin_shutdown(),
                SignalRequest::Stop => self.state = State::Stopped,
            },
            TICK => {
                let expired = self
                    .timers
                    .tick
                    .as_ref()
                    .is_some_and(|(t, _)| t.acknowledge().unwrap_or(0) > 0);
                // Only a wait that reported nothing else timed out (the
                // tutorial's `select` returned empty lists).
                if expired && in_wait == 1 {
                    self.report.trace(&ServerEvent::TimedOut);
                    self.service.on_tick();
                }
            }
            SWEEP => self.sweep_idle(),
            ACCEPT_RESUME => self.resume_accept(),
            LINGER_END => self.end_lingering(),
            DRAIN_END => {
                let _ = self.timers.drain.acknowledge();
                if self.state == State::Draining {
                    self.state = State::Stopped;
                }
            }
            _ => {}
        }
    }

    /// Stops accepting (the listener is deregistered and closed).
    fn drop_listener(&mut self) {
        if let Some(l) = self.listener.take() {
            if self.listener_registered {
                let _ = self.registry.deregister(&l);
            }
        }
    }

    fn begin_shutdown(&mut self) {
        if self.state != State::Running {
            return;
        }
        self.drop_listener();
        let _ = self.timers.accept.cancel();
        let mut pending = 0;
        for i in 0..self.conns.len() {
            if let Some(c) = &mut self.conns[i] {
                pending += c.pending();
                c.flags |= CLOSE_AFTER_FLUSH;
                self.sync_interest(i);
            }
        }
        self.report.event(&ServerEvent::ShuttingDown {
            conns: self.live,
            pending,
        });
        self.state = State::Draining;
        // Cannot fail on a timer we made (a huge grace saturates).
        let _ = self.timers.drain.set_once(self.config.shutdown_grace);
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                    _ if is_resource_exhaustion(&e) => {
                        let backoff = self.config.accept_backoff;
                        if !self.exhaustion_logged {
                            self.report.event(&ServerEvent::AcceptPaused(&e, backoff));
                            self.exhaustion_logged = true;
                        }
                        if self.registry.deregister(listener).is_ok() {
                            self.listener_registered = false;
                        }
                        let _ = self.timers.accept.set_once(backoff);
                        return;
                    }
                    _ => {
                        self.report.event(&ServerEvent::AcceptFailed(&e));
                        return;
                    }
                },
            };
            self.exhaustion_logged = false;
            if self.live >= self.config.max_conns {
                drop(stream);
                self.report.rejected(peer, self.config.max_conns);
                continue;
            }
            if let Err(e) = self.add(stream, peer) {
                self.report.event(&ServerEvent::AcceptFailed(&e));
            }
        }
    }

    fn add(&mut self, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        if self.config.nodelay {
            // Not fatal: a connection without it is only slower.
            let _ = stream.set_nodelay(true);
        }
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.conns.push(None);
                self.states.push(None);
                self.conns.len() - 1
            }
        };
        if let Err(e) = self
            .registry
            .register(&stream, conn_token(i), Interest::READABLE)
        {
            self.free.push(i);
            return Err(e);
        }
        let last_active = self.config.idle_timeout.map(|_| Instant::now());
        self.live += 1;
        self.report.stats.accepted += 1;
        self.report.trace(&ServerEvent::Accepted(peer));
        let c = self.conns[i].insert(ConnState::new(stream, peer, last_active));
        let state = self
            .service
            .on_connect(&mut Conn::new(ReadyConn::new(c, &mut self.report)));
        self.states[i] = Some(state);
        self.sync_interest(i);
        Ok(())
    }

    #[inline]
    fn conn_event(&mut self, i: usize, ev: &Event) {
        let (Some(Some(c)), Some(Some(state))) = (self.conns.get_mut(i), self.states.get_mut(i))
        else {
            return; // closed earlier in this batch
        };
        if c.linger_until.is_some() {
            return self.linger(i);
        }
        // Flush first: it makes room before reading adds more.
        if c.pending() > 0 && (ev.is_writable() || ev.is_error() || ev.is_write_closed()) {
            flush(c, &mut self.report);
        }
        let reading = c.interest.contains(Interest::READABLE);
        if reading
            && c.error.is_none()
            && (ev.is_readable() || ev.is_read_closed() || ev.is_error())
        {
            match c.recv(&mut self.read_buf) {
                Ok(0) => {
                    c.flags |= READ_CLOSED;
                    self.service
                        .on_read_closed(&mut Conn::new(ReadyConn::new(c, &mut self.report)), state);
                }
                Ok(n) => {
                    if let Some(t) = &mut c.last_active {
                        *t = Instant::now();
                    }
                    let data = &self.read_buf[..n];
                    self.report.received(&c.peer, data);
                    self.service.on_data(
                        &mut Conn::new(ReadyConn::new(c, &mut self.report)),
                        state,
                        data,
                    );
                }
                Err(Errno::AGAIN) => {}
                Err(e) => c.error = Some(e.into()),
            }
        } else if ev.is_error() && c.pending() == 0 && c.error.is_none() {
            // An error with nothing to read or write through: fetch it.
            c.error = Some(match c.stream.take_error() {
                Ok(Some(e)) => e,
                Ok(None) => io::Error::other("socket error condition"),
                Err(e) => e,
            });
        }
        if c.steady() {
            return;
        }
        self.sync_interest(i);
    }

    /// Closes the connection if it is finished, lingers if it is flushed
    /// and closing, else registers the interest its state needs (only when
    /// that changed).
    #[inline(never)]
    fn sync_interest(&mut self, i: usize) {
        let Some(c) = &mut self.conns[i] else {
            return;
        };
        let pending = c.pending();
        if c.error.is_some() {
            return self.close(i, None);
        }
        if pending == 0 && c.has(READ_CLOSED) {
            return self.close(i, None);
        }
        if pending == 0 && c.has(CLOSE_AFTER_FLUSH) {
            return self.linger(i);
        }
        if c.has(PAUSED) {
            if pending <= self.config.output_cap / 2 {
                c.flags &= !PAUSED;
            }
        } else if pending >= self.config.output_cap {
            c.flags |= PAUSED;
        }
        let mut want = Interest::empty();
        if c.flags & (PAUSED | READ_CLOSED | CLOSE_AFTER_FLUSH) == 0 {
            want |= Interest::READABLE;
        }
        if pending > 0 {
            want |= Interest::WRITABLE;
        }
        self.set_interest(i, want);
    }

    /// Reregisters connection `i` for `want` if that is not what it has;
    /// on failure records the error and closes it.
    fn set_interest(&mut self, i: usize, want: Interest) {
        let Some(c) = &mut self.conns[i] else {
            return;
        };
        if want == c.interest {
            return;
        }
        match self.registry.reregister(&c.stream, conn_token(i), want) {
            Ok(()) => c.interest = want,
            Err(e) => {
                c.error = Some(e);
                self.close(i, None);
            }
        }
    }

    /// Closes a connection whose output is all sent but whose peer may still
    /// be sending. Closing a socket with unread input, or one that input
    /// reaches after the close, makes the kernel send a reset, which throws
    /// away what the peer has not read yet. So the writing side is shut
    /// down (the peer sees end of file after the last byte) and input is
    /// discarded until the peer closes or [`Config::shutdown_grace`] (at
    /// most [`Config::MAX_LINGER`]) passes (a "lingering close"). An empty
    /// receive queue is not enough to close at once: bytes the peer sent before it saw our end of file may still
    /// be on their way, and their arrival after a close would reset the
    /// connection under the echoed bytes the peer has not read.
    fn linger(&mut self, i: usize) {
        let Some(c) = &mut self.conns[i] else {
            return;
        };
        for _ in 0..8 {
            match c.recv(&mut self.read_buf) {
                // The peer closed too. Reported as the close it is (ours,
                // `Done`), not as the peer's end of file.
                Ok(0) => return self.close(i, None),
                Ok(_) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    c.error = Some(e.into());
                    return self.close(i, None);
                }
            }
        }
        if c.linger_until.is_none() {
            if let Err(e) = c.stream.shutdown(std::net::Shutdown::Write) {
                c.error = Some(e);
                return self.close(i, None);
            }
            let linger = self.config.shutdown_grace.min(Config::MAX_LINGER);
            let until = after(Instant::now(), linger);
            c.linger_until = Some(until);
            self.lingering += 1;
            self.timers.linger_until(until);
            self.set_interest(i, Interest::READABLE);
        }
    }

    fn close(&mut self, i: usize, forced: Option<CloseReason<'_>>) {
        let Some(c) = self.conns[i].take() else {
            return;
        };
        let _ = self.registry.deregister(&c.stream);
        self.free.push(i);
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
            _ if self.state == State::Draining => CloseReason::Shutdown(0),
            _ => CloseReason::Done,
        };
        self.report.trace(&ServerEvent::Closed(c.peer, reason));
        if let Some(state) = self.states[i].take() {
            self.service.on_close(c.peer, state, &reason);
        }
        drop(c);
    }

    /// Lingering closes whose time is up end (the `LINGER_END` timer), and
    /// the timer is armed for the next one.
    fn end_lingering(&mut self) {
        let _ = self.timers.linger.acknowledge();
        self.timers.linger_at = None;
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for i in 0..self.conns.len() {
            let Some(until) = self.conns[i].as_ref().and_then(|c| c.linger_until) else {
                continue;
            };
            if now >= until {
                self.close(i, None);
            } else {
                next = Some(next.map_or(until, |t| t.min(until)));
            }
        }
        if let Some(next) = next {
            self.timers.linger_until(next);
        }
    }

    /// Accepting resumes after a pause (the `ACCEPT_RESUME` timer).
    fn resume_accept(&mut self) {
        let _ = self.timers.accept.acknowledge();
        let Some(l) = &self.listener else {
            return;
        };
        if self.listener_registered {
            return;
        }
        if self
            .registry
            .register(l, LISTENER, Interest::READABLE)
            .is_ok()
        {
            self.listener_registered = true;
            // Level-triggered: pending connections are reported by the
            // next wait.
        } else {
            let _ = self.timers.accept.set_once(self.config.accept_backoff);
        }
    }

    /// Closes the connections idle for the idle timeout (the periodic
    /// `SWEEP` timer).
    fn sweep_idle(&mut self) {
        let Some(sweep) = &self.timers.sweep else {
            return;
        };
        let _ = sweep.acknowledge();
        let Some(idle) = self.config.idle_timeout else {
            return;
        };
        let now = Instant::now();
        for i in 0..self.conns.len() {
            let expired = self.conns[i]
                .as_ref()
                .and_then(|c| c.last_active)
                .is_some_and(|t| now.duration_since(t) >= idle);
            if expired {
                self.close(i, Some(CloseReason::Idle));
            }
        }
    }

    /// Closes the listener and every connection (what is still queued is
    /// counted as unsent).
    pub(crate) fn close_all(&mut self) {
        self.drop_listener();
        for i in 0..self.conns.len() {
            if let Some(c) = &self.conns[i] {
                let left = c.pending();
                self.report.stats.unsent_at_shutdown += left as u64;
                self.close(i, Some(CloseReason::Shutdown(left)));
            }
        }
    }
}
