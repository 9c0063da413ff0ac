//! What a server reports: [`ServerEvent`]s to an [`Observer`], and the
//! counters of a run ([`Summary`]).
//!
//! How an event is written for people is the caller's business (the
//! `ioready` command prints the tutorials' transcript lines); the events carry
//! the data and derive only `Debug`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Why a connection was closed.
#[derive(Debug, Clone, Copy)]
pub enum CloseReason<'a> {
    /// The peer closed (read returned end of file) and everything queued
    /// was sent.
    Eof,
    /// The service asked for it ([`Conn::close`](crate::Conn::close)) and
    /// everything queued was sent.
    Done,
    /// An I/O error on this connection (`ECONNRESET`, `EPIPE`, ...).
    Error(&'a io::Error),
    /// No traffic for [`Config::idle_timeout`](crate::Config::idle_timeout).
    Idle,
    /// The server shut down: the connection was closed by the drain with
    /// everything sent (0), or when the drain's grace ended with this many
    /// bytes left unsent.
    Shutdown(usize),
}

/// What a [`Server`](crate::Server) reports, in the order it happens.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// Listening on this address (reported in all modes, first).
    Starting(SocketAddr),
    /// About to wait (trace).
    Waiting,
    /// A wait ended with nothing ready after
    /// [`Config::tick`](crate::Config::tick) (trace).
    TimedOut,
    /// A connection was accepted (trace).
    Accepted(SocketAddr),
    /// Bytes were read from a peer (trace).
    Received(SocketAddr, &'a [u8]),
    /// Bytes were written to a peer (trace).
    Sent(SocketAddr, &'a [u8]),
    /// A peer's output queue became empty (trace).
    QueueEmpty(SocketAddr),
    /// A connection was closed (trace).
    Closed(SocketAddr, CloseReason<'a>),
    /// Warning: a connection past [`Config::max_conns`](crate::Config::max_conns)
    /// was closed at once; `count` were refused since the last such warning
    /// (at most one a second).
    Rejected {
        /// The last refused peer.
        peer: SocketAddr,
        /// Refused since the last warning.
        count: u64,
        /// The limit.
        max_conns: usize,
    },
    /// Warning: accept failed for lack of descriptors or memory; accepting
    /// pauses for the given time, and again after each failed retry, but
    /// this is reported only once until an accept succeeds.
    AcceptPaused(&'a io::Error, Duration),
    /// Warning: accept or registering a new connection failed otherwise.
    AcceptFailed(&'a io::Error),
    /// Warning: the [`Engine`](crate::Engine) asked for cannot run here (the
    /// error says why: a seccomp filter, `kernel.io_uring_disabled`, a
    /// kernel too old, a build without it); the server runs
    /// [`Engine::Readiness`](crate::Engine::Readiness) on `backend` instead.
    /// Reported once, before [`ServerEvent::Starting`].
    EngineFallback {
        /// The engine asked for.
        wanted: crate::Engine,
        /// Why it is not available.
        reason: &'a io::Error,
        /// The backend served on instead.
        backend: ioready::Backend,
    },
    /// Shutdown began: stop accepting, flush `pending` bytes over `conns`
    /// connections (reported in all modes).
    ShuttingDown {
        /// Open connections.
        conns: usize,
        /// Bytes queued over all of them.
        pending: usize,
    },
}

impl ServerEvent<'_> {
    /// True for events reported even without
    /// [`Config::trace`](crate::Config::trace) that signal a problem.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            ServerEvent::Rejected { .. }
                | ServerEvent::AcceptPaused(..)
                | ServerEvent::AcceptFailed(_)
                | ServerEvent::EngineFallback { .. }
        )
    }
}

/// Receives [`ServerEvent`]s. Any `FnMut(&ServerEvent<'_>) + Send` is one.
pub trait Observer: Send {
    /// Called for each event, on the server's thread.
    fn event(&mut self, event: &ServerEvent<'_>);
}

impl<F: FnMut(&ServerEvent<'_>) + Send> Observer for F {
    fn event(&mut self, event: &ServerEvent<'_>) {
        self(event)
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&mut self, _: &ServerEvent<'_>) {}
}

/// Counters of one [`Server::run`](crate::Server::run).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections closed at once past `max_conns`.
    pub rejected: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Bytes still queued when shutdown's grace ran out (lost).
    pub unsent_at_shutdown: u64,
}

/// The counters, the observer and whether data-path events are reported,
/// travelling together: the event loop owns one, and each
/// [`Conn`](crate::Conn) borrows it through one pointer.
pub(crate) struct Reporter {
    pub(crate) stats: Summary,
    observer: Box<dyn Observer>,
    /// [`Config::trace`](crate::Config::trace).
    pub(crate) trace: bool,
    /// Connections refused past `max_conns` since the last warning.
    rejected_unlogged: u64,
    last_reject_log: Option<Instant>,
}

impl Reporter {
    pub(crate) fn new(trace: bool) -> Reporter {
        Reporter {
            stats: Summary::default(),
            observer: Box::new(Silent),
            trace,
            rejected_unlogged: 0,
            last_reject_log: None,
        }
    }

    pub(crate) fn set_observer(&mut self, observer: Box<dyn Observer>) {
        self.observer = observer;
    }

    /// Reports `event` whatever the trace setting (starts, warnings,
    /// shutdown).
    pub(crate) fn event(&mut self, event: &ServerEvent<'_>) {
        self.observer.event(event);
    }

    /// Reports a data-path event if tracing.
    #[inline]
    pub(crate) fn trace(&mut self, event: &ServerEvent<'_>) {
        if self.trace {
            self.observer.event(event);
        }
    }

    /// A connection from `peer` was closed at once, past `max_conns`:
    /// counted, and warned about at most once a second.
    pub(crate) fn rejected(&mut self, peer: SocketAddr, max_conns: usize) {
        self.stats.rejected += 1;
        self.rejected_unlogged += 1;
        let now = Instant::now();
        if self
            .last_reject_log
            .map_or(true, |t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.event(&ServerEvent::Rejected {
                peer,
                count: self.rejected_unlogged,
                max_conns,
            });
            self.rejected_unlogged = 0;
            self.last_reject_log = Some(now);
        }
    }

    /// `data` was written to `peer`.
    #[inline]
    pub(crate) fn sent(&mut self, peer: &SocketAddr, data: &[u8]) {
        self.stats.bytes_out += data.len() as u64;
        // The address is copied only when traced (by reference: not on
        // every round trip).
        if self.trace {
            self.observer.event(&ServerEvent::Sent(*peer, data));
        }
    }

    /// `data` was read from `peer`.
    #[inline]
    pub(crate) fn received(&mut self, peer: &SocketAddr, data: &[u8]) {
        self.stats.bytes_in += data.len() as u64;
        if self.trace {
            self.observer.event(&ServerEvent::Received(*peer, data));
        }
    }
}
