//! How a server behaves: [`Config`] and the check [`Server::bind`] makes.
//!
//! [`Server::bind`]: crate::Server::bind

use std::io;
use std::time::Duration;

use ioready::Backend;

/// How a [`Server`](crate::Server) behaves. `Config::default()` is the
/// `ioready echo-server` default.
///
/// Every value of every field is either served as documented or refused by
/// [`Config::validate`] with an error; none makes the server panic.
/// Durations may be anything up to [`Duration::MAX`]: a deadline too far
/// away to be represented is never reached (a `shutdown_grace` of
/// `Duration::MAX` waits for every byte to be sent, however long).
#[derive(Clone, Debug)]
pub struct Config {
    /// The kernel mechanism to wait with (default: [`Backend::best`]); with
    /// `Engine::Uring`, the one to fall back to where io_uring is refused.
    pub backend: Backend,
    /// The event loop (default: [`Engine::Readiness`], readiness on
    /// `backend`).
    pub engine: Engine,
    /// Sizes of the io_uring engine (used only with `Engine::Uring`).
    pub uring: UringConfig,
    /// Open connections at most (default 10,000); past it a new connection
    /// is accepted and closed at once.
    pub max_conns: usize,
    /// Bytes of queued output per connection at which the server stops
    /// reading from it (default 1 MiB). Reading resumes at half of it.
    pub output_cap: usize,
    /// Size of the one read buffer shared by all connections (default
    /// 64 KiB, at most [`Config::MAX_READ_BUFFER`]): the most one read
    /// takes.
    pub read_buffer: usize,
    /// When this long passes with nothing to report, report
    /// [`ServerEvent::TimedOut`](crate::ServerEvent::TimedOut) and call
    /// [`Service::on_tick`](crate::Service::on_tick) (the tutorial's
    /// `select(..., timeout)` that returned empty lists). An
    /// [`ioready::Timer`] re-armed before each wait, so it costs one more
    /// system call per wait (`timerfd_settime`), only when set. Default:
    /// none.
    pub tick: Option<Duration>,
    /// Close connections with no traffic for this long (checked every half
    /// of it, so a connection lives at most 1.5 times this; but not more
    /// often than once a millisecond). Default: none; `Some(Duration::ZERO)`
    /// is refused.
    pub idle_timeout: Option<Duration>,
    /// How long shutdown waits for queued output to drain (default 2 s).
    /// A connection whose output is all sent is then closed "lingering":
    /// its writing side is shut down and its input discarded until the
    /// peer closes, for at most this long and never more than
    /// [`Config::MAX_LINGER`], so that bytes the peer sent meanwhile cannot
    /// make the kernel reset the connection under the echoed bytes it has
    /// not read yet.
    pub shutdown_grace: Duration,
    /// How long the listener is set aside after `EMFILE`/`ENFILE`/`ENOBUFS`/
    /// `ENOMEM` on accept (default 100 ms).
    pub accept_backoff: Duration,
    /// Report every data-path event (default false). When false, only
    /// [`ServerEvent::Starting`](crate::ServerEvent::Starting) and warnings
    /// are reported.
    pub trace: bool,
    /// Set `TCP_NODELAY` on accepted connections (default true): an echo
    /// must not wait for the peer's delayed ACK.
    pub nodelay: bool,
    /// The listen backlog (default 1024). The kernel caps it (Linux:
    /// `net.core.somaxconn`) and takes a negative value as that cap.
    pub backlog: i32,
    /// Handle `SIGINT` and `SIGTERM` as a shutdown request (default false:
    /// a library must not take the process's signals unless asked).
    pub handle_signals: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: Backend::best(),
            engine: Engine::Readiness,
            uring: UringConfig::default(),
            max_conns: 10_000,
            output_cap: 1 << 20,
            read_buffer: 64 * 1024,
            tick: None,
            idle_timeout: None,
            shutdown_grace: Duration::from_secs(2),
            accept_backoff: Duration::from_millis(100),
            trace: false,
            nodelay: true,
            backlog: 1024,
            handle_signals: false,
        }
    }
}

impl Config {
    /// The largest [`read_buffer`](Config::read_buffer) accepted: 1 GiB.
    /// One read never needs more, and the buffer is allocated (and zeroed)
    /// up front.
    pub const MAX_READ_BUFFER: usize = 1 << 30;

    /// The longest a lingering close waits for the peer's end of file
    /// (see [`Config::shutdown_grace`]): long enough for bytes already on
    /// their way to arrive, short enough that a peer which never closes
    /// cannot hold a connection, or a shutdown, open for long.
    pub const MAX_LINGER: Duration = Duration::from_secs(2);

    /// Checks the values that have no meaning: zero `max_conns` or
    /// `output_cap`, a `read_buffer` of zero or above
    /// [`MAX_READ_BUFFER`](Self::MAX_READ_BUFFER), a zero `idle_timeout`
    /// (`None` means no timeout), io_uring sizes the kernel refuses.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the field.
    pub fn validate(&self) -> io::Result<()> {
        let bad = |msg: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()));
        if self.max_conns == 0 {
            return bad("config: max_conns must be positive");
        }
        if self.output_cap == 0 {
            return bad("config: output_cap must be positive");
        }
        if self.read_buffer == 0 || self.read_buffer > Self::MAX_READ_BUFFER {
            return bad("config: read_buffer must be 1 to 1073741824 bytes");
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return bad("config: idle_timeout must be positive (None: no timeout)");
        }
        let u = &self.uring;
        if !u.buffers.is_power_of_two() || u.buffers > 32_768 {
            return bad("config: uring.buffers must be a power of two from 1 to 32768");
        }
        if u.buffer_size == 0 {
            return bad("config: uring.buffer_size must be positive");
        }
        if u.sq_entries == 0 || u.sq_entries > 32_768 {
            return bad("config: uring.sq_entries must be 1 to 32768");
        }
        if u.cq_entries < u.sq_entries || u.cq_entries > 1 << 20 {
            return bad("config: uring.cq_entries must be uring.sq_entries to 1048576");
        }
        Ok(())
    }
}

/// Which event loop a [`Server`](crate::Server) runs: the readiness engine
/// or the io_uring engine (the two names used everywhere: these docs,
/// [`Engine::name`], the command's messages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// The readiness engine: the library's [`Selector`](ioready::Selector)
    /// on [`Config::backend`] (select, poll, epoll, kqueue): wait, then one
    /// `recv` and one `send` system call per message. The default, on
    /// every Unix.
    #[default]
    Readiness,
    /// The io_uring engine, a completion loop (Linux 6.0+; the variant
    /// exists only in a build with this crate's cargo feature `uring`):
    /// multishot accept and receive into a provided buffer ring, sends
    /// submitted in batches, one `io_uring_enter` per loop iteration. Same
    /// [`Service`](crate::Service) API and guarantees. Where the kernel
    /// refuses io_uring (seccomp, `kernel.io_uring_disabled`, a kernel older
    /// than 6.0, a system other than Linux) the server runs
    /// [`Engine::Readiness`] on [`Config::backend`] instead, never
    /// silently: [`Server::fallback`](crate::Server::fallback) says why and
    /// [`ServerEvent::EngineFallback`](crate::ServerEvent::EngineFallback)
    /// is reported once.
    #[cfg(feature = "uring")]
    #[cfg_attr(docsrs, doc(cfg(feature = "uring")))]
    Uring,
}

impl Engine {
    /// Its name: `"readiness"` or `"uring"`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Readiness => "readiness",
            #[cfg(feature = "uring")]
            Engine::Uring => "uring",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Sizes of the io_uring engine (`Engine::Uring`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UringConfig {
    /// Receive buffers in the ring all connections share (a power of two,
    /// at most 32,768; default 32). When all are in use, receives wait
    /// (no data is lost); more buffers means more memory in steady use.
    ///
    /// Where the kernel consumes buffer rings incrementally (Linux 6.12,
    /// probed), a buffer holds as many receives as fit, one after the other,
    /// so the default 32 x 1 KiB holds 512 receives of 64 bytes. On older
    /// kernels each receive takes a whole buffer: the same 32 KiB then holds
    /// 32 at a time, and a server with many busy connections wants more
    /// buffers there (256 x 512 bytes was the default before).
    pub buffers: u16,
    /// Bytes per receive buffer: the most one completion delivers (default
    /// 1024).
    pub buffer_size: u32,
    /// Submission queue entries (default 512): the requests one batch may
    /// submit in one system call; a bigger batch takes one more.
    pub sq_entries: u32,
    /// Completion queue entries (default 2048, at least `sq_entries`).
    /// When it overflows, the kernel keeps the completions and the engine
    /// catches up (nothing is lost), at some cost.
    pub cq_entries: u32,
}

impl Default for UringConfig {
    fn default() -> Self {
        UringConfig {
            buffers: 32,
            buffer_size: 1024,
            sq_entries: 512,
            cq_entries: 2048,
        }
    }
}
