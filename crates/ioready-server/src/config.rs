//! How a server behaves: [`Config`] and the check [`Server::bind`] makes.
//!
//! [`Server::bind`]: crate::Server::bind

use std::io;
use std::time::Duration;

use ioready::Backend;

/// How a [`Server`](crate::Server) behaves. `Config::default()` is the
/// `ioready echo-server` default.
#[derive(Clone, Debug)]
pub struct Config {
    /// The kernel mechanism to wait with (default: [`Backend::best`]).
    pub backend: Backend,
    /// Open connections at most (default 10,000); past it a new connection
    /// is accepted and closed at once.
    pub max_conns: usize,
    /// Bytes of queued output per connection at which the server stops
    /// reading from it (default 1 MiB). Reading resumes at half of it.
    pub output_cap: usize,
    /// Size of the one read buffer shared by all connections (default
    /// 64 KiB): the most one read takes.
    pub read_buffer: usize,
    /// Wait at most this long; a wait that ends with nothing ready is
    /// reported as [`ServerEvent::TimedOut`](crate::ServerEvent::TimedOut)
    /// and calls [`Service::on_tick`](crate::Service::on_tick) (the seeds'
    /// `select(..., timeout)`). Default: none.
    pub tick: Option<Duration>,
    /// Close connections with no traffic for this long (checked every half
    /// of it, so a connection lives at most 1.5 times this). Default: none.
    pub idle_timeout: Option<Duration>,
    /// How long shutdown waits for queued output to drain (default 2 s).
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
    /// Checks the values that have no meaning: zero `max_conns`,
    /// `output_cap` or `read_buffer`.
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
        if self.read_buffer == 0 {
            return bad("config: read_buffer must be positive");
        }
        Ok(())
    }
}
