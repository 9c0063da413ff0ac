//! The io_uring completion engine ([`Engine::Uring`](crate::Engine::Uring);
//! Linux, cargo feature `uring`): the same [`Service`] API and guarantees as
//! the readiness engine, on requests and completions instead of readiness and
//! system calls.
//!
//! * **accept**: one multishot accept on the listener; each completion is a
//!   new connection.
//! * **receive**: one multishot receive per connection, into a provided
//!   buffer ring shared by all connections ([`UringConfig::buffers`] x
//!   [`UringConfig::buffer_size`]): memory follows the data in flight, not
//!   the number of connections. A buffer goes back to the ring as soon as
//!   the service has seen its bytes (or, for an echo, once the send of
//!   those bytes completed).
//! * **send**: submissions, batched: everything one batch of completions
//!   produced goes to the kernel in the next `io_uring_enter`. Sends are
//!   `MSG_DONTWAIT`; a short one keeps its rest, in order, and polls for
//!   room.
//! * **one `io_uring_enter` per loop iteration**, which submits and waits
//!   for "sends submitted + 1" completions (an isolated round trip is one
//!   system call), with timeouts (tick, idle sweep, lingering close, drain)
//!   as the enter call's own argument. The ring is set up with
//!   `SINGLE_ISSUER` + `DEFER_TASKRUN` and a registered descriptor where the
//!   kernel has them (probed by [`ioready::uring`], never assumed).
//!
//! What io_uring users trip over, and what this engine does about it:
//!
//! * **closing does not cancel**: a connection's requests are cancelled,
//!   its descriptor is closed and its slot reused only after their last
//!   completion, and every request carries the slot's generation, so a new
//!   connection (whatever descriptor number it gets) never sees an old
//!   one's data or completions;
//! * **multishot requests end** (buffer ring empty, errors, completion
//!   queue overflow): a completion without `F_MORE` is the end, and the
//!   request is re-armed if the connection still reads;
//! * **completion queue overflow**: the kernel keeps the completions
//!   (`IORING_FEAT_NODROP`) and the loop reaps until the queue is empty, so
//!   nothing is lost; the multishot requests it ended are re-armed;
//! * **the buffer ring running dry**: a receive that finds no buffer ends
//!   with `ENOBUFS` and leaves the data in the socket; it is re-armed once
//!   the batch in hand has given its buffers back, so the server waits,
//!   it never drops bytes.
//!
//! Where io_uring is refused (Docker's default seccomp profile,
//! `kernel.io_uring_disabled`, an old kernel), [`Server::bind`] falls back
//! to the readiness engine on [`Config::backend`] and the server reports it
//! once ([`ServerEvent::EngineFallback`]).
//!
//! [`Server::bind`]: crate::Server::bind
//! [`Config::backend`]: crate::Config::backend
//! [`ServerEvent::EngineFallback`]: crate::ServerEvent::EngineFallback
//! [`Service`]: crate::Service
//! [`UringConfig::buffers`]: crate::UringConfig::buffers
//! [`UringConfig::buffer_size`]: crate::UringConfig::buffer_size

mod conn;
mod deadlines;
mod engine;
mod ops;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ioready::uring::{opcode, BufRing, Capability, Ring};
use ioready::{Backend, Selector, Signal, Signals, Waker};

pub(crate) use conn::UringConn;

use crate::control::{ShutdownHandle, SIGNALS, WAKER};
use crate::engine::EngineServer;
use crate::report::Reporter;
use crate::{Config, Engine, Service, Summary};

/// What the io_uring engine did in one [`Server::run`](crate::Server::run),
/// and how its ring was set up: see
/// [`Server::uring_stats`](crate::Server::uring_stats).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UringStats {
    /// The ring is `IORING_SETUP_SINGLE_ISSUER`.
    pub single_issuer: bool,
    /// The ring is `IORING_SETUP_DEFER_TASKRUN`.
    pub defer_taskrun: bool,
    /// Waits of the loop: each is one `io_uring_enter` that submits and
    /// waits (plus one more each time a batch filled the submission queue).
    pub enters: u64,
    /// Completions handled.
    pub completions: u64,
    /// Waits after which the kernel held completions in its overflow list
    /// (the completion queue was full).
    pub cq_overflows: u64,
    /// Receives that found the buffer ring empty (`ENOBUFS`) and were
    /// re-armed later.
    pub buffers_ran_out: u64,
    /// Multishot requests (accept, receive) re-armed after they ended.
    pub rearmed: u64,
    /// Completions of a connection that was gone, dropped.
    pub stale: u64,
}

/// The parts of a server on the io_uring engine that live from `bind` to
/// the end; the ring itself is made by `run`, on the thread that runs it
/// (a `SINGLE_ISSUER` ring belongs to one thread).
pub(crate) struct UringServer<S> {
    pub(crate) config: Config,
    pub(crate) listener: Option<TcpListener>,
    pub(crate) local_addr: SocketAddr,
    pub(crate) service: S,
    pub(crate) report: Reporter,
    pub(crate) shutdown_requested: Arc<AtomicBool>,
    /// The control events: the [`ShutdownHandle`](crate::ShutdownHandle)'s
    /// waker and the signals, as the library's sources on a small epoll
    /// selector, whose descriptor the ring polls. They are rare, so one
    /// poll and one wait of their own cost nothing on the data path.
    pub(crate) control: Selector,
    pub(crate) waker: Arc<Waker>,
    pub(crate) signals: Option<Signals>,
    pub(crate) stats: Option<UringStats>,
}

impl<S> std::fmt::Debug for UringServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringServer")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish()
    }
}

impl<S: Service> UringServer<S> {
    /// A server on `listener` (non-blocking already). The caller has
    /// [`probe`]d.
    pub(crate) fn new(
        config: Config,
        listener: TcpListener,
        service: S,
    ) -> io::Result<UringServer<S>> {
        let local_addr = listener.local_addr()?;
        let control = Selector::with_backend(Backend::Epoll)?;
        let waker = Arc::new(Waker::new(control.registry(), WAKER)?);
        let signals = if config.handle_signals {
            Some(Signals::new(
                control.registry(),
                SIGNALS,
                &[Signal::INT, Signal::TERM],
            )?)
        } else {
            None
        };
        Ok(UringServer {
            report: Reporter::new(config.trace),
            config,
            listener: Some(listener),
            local_addr,
            service,
            shutdown_requested: Arc::new(AtomicBool::new(false)),
            control,
            waker,
            signals,
            stats: None,
        })
    }
}

impl<S: Service> EngineServer<S> for UringServer<S> {
    fn engine(&self) -> Engine {
        Engine::Uring
    }

    /// The fallback's backend: this engine does not use it.
    fn backend(&self) -> Backend {
        self.config.backend
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    fn report(&mut self) -> &mut Reporter {
        &mut self.report
    }

    fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle::new(self.shutdown_requested.clone(), self.waker.clone())
    }

    fn service(&self) -> &S {
        &self.service
    }

    /// Serves until shut down (see [`Server::run`](crate::Server::run)).
    fn run(&mut self) -> io::Result<Summary> {
        let stats = engine::Engine::new(self)?.run();
        match stats {
            Ok(s) => {
                self.stats = Some(s);
                Ok(self.report.stats)
            }
            Err(e) => Err(e),
        }
    }
}

/// The ring and buffer ring the engine runs on, as `config` sizes them;
/// the kernel must have everything the engine uses. Set up on the calling
/// thread: the engine's own (which the kernel records anyway, as the one
/// that submits) or the probe's short-lived one, so no helper thread is
/// started for it (see `RingBuilder::setup_on_this_thread`).
pub(crate) fn setup(config: &Config) -> io::Result<(Ring, BufRing)> {
    let u = &config.uring;
    let ring = Ring::builder()
        .setup_on_this_thread(true)
        .entries(u.sq_entries)
        .cq_entries(u.cq_entries)
        .require(Capability::AcceptMultishot)
        .require(Capability::RecvMultishot)
        .require(Capability::BufRing)
        .require(Capability::Opcode(opcode::Send::CODE))
        .require(Capability::Opcode(opcode::PollAdd::CODE))
        .require(Capability::Opcode(opcode::AsyncCancel::CODE))
        .build()?;
    // Incrementally consumed where the kernel has it (6.12): small messages
    // share a buffer instead of taking one each.
    let bufs = match BufRing::incremental(&ring, 0, u.buffers, u.buffer_size) {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            BufRing::new(&ring, 0, u.buffers, u.buffer_size)?
        }
        other => other?,
    };
    Ok((ring, bufs))
}

/// Whether the engine can run here: sets up (and drops) a ring and buffer
/// ring as `run` will. The error names the reason (see
/// [`ioready::uring::RingBuilder::build`]).
///
/// On a thread of its own: the kernel tears a ring down asynchronously and
/// may then notify the thread that made it (task work), which interrupts a
/// blocking call of that thread with a timeout (`SO_RCVTIMEO`) with `EINTR`.
/// The caller of `Server::bind` must not be that thread.
pub(crate) fn probe(config: &Config) -> io::Result<()> {
    std::thread::scope(|s| {
        s.spawn(|| setup(config).map(drop))
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the io_uring probe panicked")))
    })
}
