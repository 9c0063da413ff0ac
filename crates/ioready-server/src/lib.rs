//! Reusable TCP serving on [`ioready`]: one thread, one [`Selector`], many
//! connections, as Python's `asyncore` and `socketserver` let you build.
//!
//! You write a [`Service`] (what to do with the bytes of a connection); the
//! [`Server`] does the rest:
//!
//! * **accept**: every pending connection is accepted per readiness; past
//!   [`Config::max_conns`] a new connection is closed at once (with a
//!   rate-limited warning), never left hanging; on `EMFILE`/`ENFILE` the
//!   listener is set aside for [`Config::accept_backoff`] (one warning) so
//!   the loop keeps serving existing connections without spinning.
//! * **output buffers**: [`Conn::send`] writes at once when nothing is
//!   queued, and queues only what the kernel did not take; queued bytes are
//!   sent, all of them and in order, when the socket becomes writable.
//!   `WRITABLE` is asked for only while bytes are pending.
//! * **backpressure**: while a connection has [`Config::output_cap`] bytes or
//!   more queued, the server stops reading from it, so a client that sends
//!   without reading cannot grow the server's memory; reading resumes once
//!   the queue has drained to half the cap.
//! * **half-close**: a client that shuts down its writing side still gets
//!   every queued byte before the server closes the connection.
//! * **errors**: `ECONNRESET` and every other per-connection error close
//!   that connection only.
//! * **idle timeouts** ([`Config::idle_timeout`]) and a periodic tick
//!   ([`Config::tick`], the seeds' `select(..., timeout)`).
//! * **shutdown**: [`ShutdownHandle::shutdown`], or `SIGINT`/`SIGTERM` with
//!   [`Config::handle_signals`]: stop accepting, stop reading, flush what can
//!   be flushed within [`Config::shutdown_grace`], close everything, and
//!   return from [`Server::run`]. A second signal stops at once.
//!
//! What happens is reported to an observer as [`ServerEvent`]s, whose
//! `Display` gives the lines of the seeds' echo server (`received "..." from
//! ('127.0.0.1', 55821)`). With [`Config::trace`] off only warnings and the
//! start are reported, and the data path does no formatting and, in steady
//! state, no allocation: one wait, one read and one write per echoed message.
//!
//! ```
//! use std::io::{Read, Write};
//! use ioready_server::{Config, Echo, Server};
//!
//! let mut server = Server::bind("127.0.0.1:0", Config::default(), Echo)?;
//! let addr = server.local_addr();
//! let stop = server.shutdown_handle();
//! let thread = std::thread::spawn(move || server.run());
//!
//! let mut client = std::net::TcpStream::connect(addr)?;
//! client.write_all(b"This is the message. ")?;
//! client.shutdown(std::net::Shutdown::Write)?;
//! let mut echoed = String::new();
//! client.read_to_string(&mut echoed)?;
//! assert_eq!(echoed, "This is the message. ");
//!
//! stop.shutdown()?;
//! let summary = thread.join().unwrap()?;
//! assert_eq!(summary.accepted, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg(unix)]

mod display;
mod limits;

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioready::{Backend, Event, Events, Interest, Registry, Selector, Token, Waker};

pub use display::{Bytes, PyAddr};
pub use limits::raise_fd_limit;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
/// Connection `i` of the slab has token `FIRST_CONN + i`.
const FIRST_CONN: usize = 3;
/// Queued output of an idle connection is kept for reuse up to this size.
const KEEP_OUT_CAPACITY: usize = 64 * 1024;

/// How a [`Server`] behaves. `Config::default()` is the `ioready echo-server`
/// default.
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
    /// reported as [`ServerEvent::TimedOut`] and calls [`Service::on_tick`]
    /// (the seeds' `select(..., timeout)`). Default: none.
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
    /// [`ServerEvent::Starting`] and warnings are reported.
    pub trace: bool,
    /// Set `TCP_NODELAY` on accepted connections (default true): an echo
    /// must not wait for the peer's delayed ACK.
    pub nodelay: bool,
    /// The listen backlog (default 1024).
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

/// Why a connection was closed.
#[derive(Debug)]
pub enum CloseReason<'a> {
    /// The peer closed (read returned end of file) and everything queued
    /// was sent.
    Eof,
    /// The service asked for it ([`Conn::close`]) and everything queued was
    /// sent.
    Done,
    /// An I/O error on this connection (`ECONNRESET`, `EPIPE`, ...).
    Error(&'a io::Error),
    /// No traffic for [`Config::idle_timeout`].
    Idle,
    /// The server shut down (with this many bytes left unsent).
    Shutdown(usize),
}

/// What a [`Server`] reports. `Display` writes the line the seeds' Python
/// server prints for it (without the leading blank line of "waiting").
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// Listening on this address (reported in all modes, first).
    Starting(SocketAddr),
    /// About to wait (trace).
    Waiting,
    /// A wait ended with nothing ready after [`Config::tick`] (trace).
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
    /// Warning: a connection past [`Config::max_conns`] was closed at once;
    /// `count` were refused since the last such warning (at most one a
    /// second).
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
    /// True for events reported even without [`Config::trace`].
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            ServerEvent::Rejected { .. }
                | ServerEvent::AcceptPaused(..)
                | ServerEvent::AcceptFailed(_)
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

/// What a server does with its connections (the `asyncore.dispatcher`
/// methods). Every method gets the connection as a [`Conn`], through which
/// it answers ([`Conn::send`]) or ends ([`Conn::close`]) the connection.
pub trait Service {
    /// A connection was accepted.
    fn on_connect(&mut self, conn: &mut Conn<'_>) {
        let _ = conn;
    }

    /// Bytes arrived (never empty).
    fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]);

    /// The peer shut down its writing side. The connection is closed once
    /// its queued output is sent (the default does nothing more).
    fn on_read_closed(&mut self, conn: &mut Conn<'_>) {
        let _ = conn;
    }

    /// A wait of [`Config::tick`] ended with nothing ready.
    fn on_tick(&mut self) {}
}

/// The echo service: every byte read is sent back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl Service for Echo {
    #[inline]
    fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) {
        conn.send(data);
    }
}

/// The RFC 868 time service: on connect, four bytes (big-endian seconds
/// since 1900-01-01 UTC, modulo 2^32), then close.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeService;

/// Seconds between 1900-01-01 and 1970-01-01 (RFC 868).
pub const RFC868_EPOCH_OFFSET: u64 = 2_208_988_800;

/// The RFC 868 value for `time` (wraps modulo 2^32, in 2036, as the RFC's
/// 32-bit field does).
pub fn rfc868_value(time: std::time::SystemTime) -> u32 {
    let unix = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (unix + RFC868_EPOCH_OFFSET) as u32
}

impl Service for TimeService {
    fn on_connect(&mut self, conn: &mut Conn<'_>) {
        conn.send(&rfc868_value(std::time::SystemTime::now()).to_be_bytes());
        conn.close();
    }

    fn on_data(&mut self, _: &mut Conn<'_>, _: &[u8]) {}
}

/// Counters of one [`Server::run`].
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

/// Asks a running [`Server`] to shut down, from any thread.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Starts the shutdown (stop accepting, flush, close, return from
    /// `run`). Calling it again is harmless.
    ///
    /// # Errors
    ///
    /// Those of [`Waker::wake`] (none known in practice).
    pub fn shutdown(&self) -> io::Result<()> {
        self.flag.store(true, Ordering::SeqCst);
        self.waker.wake()
    }
}

/// One connection, as seen by a [`Service`].
pub struct Conn<'a> {
    c: &'a mut Connection,
    stats: &'a mut Summary,
    observer: &'a mut dyn Observer,
    trace: bool,
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.c.peer)
            .field("pending", &self.c.pending())
            .finish()
    }
}

impl Conn<'_> {
    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.c.peer
    }

    /// Bytes queued and not yet sent.
    pub fn pending(&self) -> usize {
        self.c.pending()
    }

    /// Sends `data`: at once if nothing is queued (one `write`), queueing
    /// whatever the kernel does not take; after queued bytes otherwise. Bytes
    /// go out exactly once and in order. A write error closes the connection
    /// after the current callback (reported as
    /// [`CloseReason::Error`]); later sends are then ignored.
    #[inline]
    pub fn send(&mut self, data: &[u8]) {
        // The common case, inline: nothing queued, no tracing, one write.
        if !self.trace && self.c.pending() == 0 && self.c.error.is_none() && !data.is_empty() {
            match write_retry(self.c, data) {
                Ok(n) => {
                    self.stats.bytes_out += n as u64;
                    if n < data.len() {
                        self.c.queue(&data[n..]);
                    }
                }
                Err(rustix::io::Errno::AGAIN) => self.c.queue(data),
                Err(e) => self.c.error = Some(e.into()),
            }
            return;
        }
        send_slow(self.c, self.stats, self.observer, self.trace, data);
    }
}

/// [`Conn::send`] with tracing, queued bytes or an error. A function of
/// the parts, not of `Conn`, so that the inlined fast path does not have to
/// build a `Conn` in memory.
#[inline(never)]
fn send_slow(
    c: &mut Connection,
    stats: &mut Summary,
    observer: &mut dyn Observer,
    trace: bool,
    data: &[u8],
) {
    if data.is_empty() || c.error.is_some() {
        return;
    }
    let mut rest = data;
    if c.pending() == 0 {
        match write_retry(c, data) {
            Ok(n) => {
                stats.bytes_out += n as u64;
                if trace {
                    observer.event(&ServerEvent::Sent(c.peer, &data[..n]));
                }
                rest = &data[n..];
                if rest.is_empty() {
                    if trace {
                        observer.event(&ServerEvent::QueueEmpty(c.peer));
                    }
                    return;
                }
            }
            Err(rustix::io::Errno::AGAIN) => {}
            Err(e) => {
                c.error = Some(e.into());
                return;
            }
        }
    }
    c.queue(rest);
}

impl Conn<'_> {
    /// Closes the connection once everything queued is sent; reading stops
    /// now. Input that still arrives is discarded until the peer closes
    /// (at most [`Config::shutdown_grace`]), so that closing does not reset
    /// the connection and destroy what the peer has yet to read.
    pub fn close(&mut self) {
        self.c.flags |= CLOSE_AFTER_FLUSH;
    }
}

#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    /// `stream`'s descriptor (std's `as_fd` is not inlined).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    raw: std::os::fd::RawFd,
    peer: SocketAddr,
    out: Vec<u8>,
    out_pos: usize,
    /// The interest currently registered.
    interest: Interest,
    /// [`PAUSED`] (reading paused for backpressure), [`READ_CLOSED`],
    /// [`CLOSE_AFTER_FLUSH`]: one byte, so that the per-event check of
    /// [`Connection::steady`] is one comparison.
    flags: u8,
    error: Option<io::Error>,
    last_active: Option<Instant>,
    /// Set while discarding input after shutting down our writing side.
    linger_until: Option<Instant>,
}

/// [`Connection::flags`]: reading paused for backpressure.
const PAUSED: u8 = 1;
/// [`Connection::flags`]: the peer shut down its writing side.
const READ_CLOSED: u8 = 2;
/// [`Connection::flags`]: close once the queued output is sent.
const CLOSE_AFTER_FLUSH: u8 = 4;

impl Connection {
    #[inline]
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The socket, borrowed without a call into std.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: `raw` is `stream`'s descriptor, which stays open as long
        // as `stream` lives; the borrow of `self` keeps `stream` alive for
        // the lifetime of the result.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.raw) }
    }

    #[inline]
    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Reading, nothing queued, nothing to close: what
    /// [`Core::update`] would leave as it is.
    #[inline]
    fn steady(&self) -> bool {
        self.out.len() == self.out_pos
            && self.interest == Interest::READABLE
            && self.flags == 0
            && self.error.is_none()
    }

    #[inline(never)]
    fn queue(&mut self, data: &[u8]) {
        if self.out_pos > 0 && self.out_pos >= self.out.len() / 2 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        self.out.extend_from_slice(data);
    }
}

/// One `send` (with `MSG_NOSIGNAL`: a closed peer is an `EPIPE` error, not a
/// signal), retried on `EINTR`. On Linux the system call is made inline
/// (rustix), without std's and libc's wrappers: this is the data path.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn write_retry(c: &Connection, data: &[u8]) -> Result<usize, rustix::io::Errno> {
    loop {
        match rustix::net::send(c.fd(), data, rustix::net::SendFlags::NOSIGNAL) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r,
        }
    }
}

/// One `recv`, retried on `EINTR` (see [`write_retry`]).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn read_retry(c: &Connection, buf: &mut [u8]) -> Result<usize, rustix::io::Errno> {
    loop {
        match rustix::net::recv(c.fd(), &mut *buf, rustix::net::RecvFlags::empty()) {
            Ok((n, _)) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn write_retry(c: &Connection, data: &[u8]) -> Result<usize, rustix::io::Errno> {
    let mut stream = &c.stream;
    loop {
        match io::Write::write(&mut stream, data) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => {
                return r.map_err(|e| {
                    rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO)
                })
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn read_retry(c: &Connection, buf: &mut [u8]) -> Result<usize, rustix::io::Errno> {
    let mut stream = &c.stream;
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => {
                return r.map_err(|e| {
                    rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO)
                })
            }
        }
    }
}

/// The self-pipe of `SIGINT`/`SIGTERM`: the handlers (signal-hook's) only
/// write one byte to it, which is async-signal-safe.
#[derive(Debug)]
struct Signals {
    reader: UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    fn new() -> io::Result<Signals> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut ids = Vec::new();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let w = writer.try_clone()?;
            match signal_hook::low_level::pipe::register(sig, w) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    for id in ids {
                        signal_hook::low_level::unregister(id);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Signals { reader, ids })
    }

    /// Empties the pipe; returns how many signals arrived.
    fn drain(&mut self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return n,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return n,
            }
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Draining { deadline: Instant },
    Stopped,
}

/// Everything but the selector and its event buffer (so events can be read
/// while the rest is changed).
struct Core<S> {
    config: Config,
    registry: Registry,
    listener: Option<TcpListener>,
    listener_registered: bool,
    local_addr: SocketAddr,
    conns: Vec<Option<Connection>>,
    free: Vec<usize>,
    live: usize,
    read_buf: Box<[u8]>,
    service: S,
    observer: Box<dyn Observer>,
    flag: Arc<AtomicBool>,
    signals: Option<Signals>,
    state: State,
    accept_paused_until: Option<Instant>,
    /// An `AcceptPaused` warning was given and no accept succeeded since.
    exhaustion_logged: bool,
    rejected_unlogged: u64,
    last_reject_log: Option<Instant>,
    next_sweep: Option<Instant>,
    /// Connections in a lingering close, and when to look for expired ones.
    lingering: usize,
    next_linger_check: Option<Instant>,
    stats: Summary,
}

/// A single-threaded event-loop TCP server running a [`Service`].
pub struct Server<S> {
    selector: Selector,
    events: Events,
    waker: Arc<Waker>,
    core: Core<S>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("backend", &self.selector.backend())
            .field("local_addr", &self.core.local_addr)
            .field("connections", &self.core.live)
            .field("config", &self.core.config)
            .finish()
    }
}

impl<S: Service> Server<S> {
    /// Binds a listener (`SO_REUSEADDR`, non-blocking, backlog
    /// [`Config::backlog`]) on the first address of `addr` that works, and
    /// prepares the selector. Nothing is accepted until [`run`](Self::run).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an address that does not resolve or a zero
    /// `output_cap`/`read_buffer`/`max_conns`; the errors of `socket`,
    /// `bind` (`AddrInUse`, `PermissionDenied`) and `listen`; those of
    /// [`Selector::with_backend`]; those of installing signal handlers.
    pub fn bind(addr: impl ToSocketAddrs, config: Config, service: S) -> io::Result<Server<S>> {
        if config.output_cap == 0 || config.read_buffer == 0 || config.max_conns == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "config: output_cap, read_buffer and max_conns must be positive",
            ));
        }
        let mut last_err = None;
        let mut listener = None;
        for a in addr.to_socket_addrs()? {
            match listen(a, config.backlog) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let listener = match (listener, last_err) {
            (Some(l), _) => l,
            (None, Some(e)) => return Err(e),
            (None, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "addr: resolves to no address",
                ))
            }
        };
        Server::from_listener(listener, config, service)
    }

    /// A server on a listener you made (it is set non-blocking).
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), after the binding.
    pub fn from_listener(
        listener: TcpListener,
        config: Config,
        service: S,
    ) -> io::Result<Server<S>> {
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let selector = Selector::with_backend(config.backend)?;
        let registry = selector.registry().clone();
        registry.register(&listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(&registry, WAKER)?);
        let signals = if config.handle_signals {
            let s = Signals::new()?;
            registry.register(&s.reader, SIGNALS, Interest::READABLE)?;
            Some(s)
        } else {
            None
        };
        let read_buf = vec![0u8; config.read_buffer].into_boxed_slice();
        Ok(Server {
            selector,
            events: Events::with_capacity(1024),
            waker,
            core: Core {
                config,
                registry,
                listener: Some(listener),
                listener_registered: true,
                local_addr,
                conns: Vec::new(),
                free: Vec::new(),
                live: 0,
                read_buf,
                service,
                observer: Box::new(Silent),
                flag: Arc::new(AtomicBool::new(false)),
                signals,
                state: State::Running,
                accept_paused_until: None,
                exhaustion_logged: false,
                rejected_unlogged: 0,
                last_reject_log: None,
                next_sweep: None,
                lingering: 0,
                next_linger_check: None,
                stats: Summary::default(),
            },
        })
    }

    /// Sets the observer of [`ServerEvent`]s (default: [`Silent`]).
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Self {
        self.core.observer = Box::new(observer);
        self
    }

    /// The address the listener is bound to (with the real port when bound
    /// to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.core.local_addr
    }

    /// The backend the server waits with.
    pub fn backend(&self) -> Backend {
        self.selector.backend()
    }

    /// A handle to stop [`run`](Self::run) from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: self.core.flag.clone(),
            waker: self.waker.clone(),
        }
    }

    /// The service, e.g. to read what it gathered after `run`.
    pub fn service(&self) -> &S {
        &self.core.service
    }

    /// Serves until shut down (see the crate docs), then closes every
    /// connection and the listener.
    ///
    /// # Errors
    ///
    /// Only errors of the wait itself (which leave the server unusable);
    /// per-connection and accept errors are handled and reported as events.
    pub fn run(&mut self) -> io::Result<Summary> {
        let core = &mut self.core;
        core.observer.event(&ServerEvent::Starting(core.local_addr));
        if let Some(idle) = core.config.idle_timeout {
            core.next_sweep = Some(Instant::now() + idle / 2);
        }
        loop {
            let core = &mut self.core;
            // A cheap look first: the swap is a locked instruction.
            if core.flag.load(Ordering::Relaxed) && core.flag.swap(false, Ordering::SeqCst) {
                core.begin_shutdown();
            }
            // Timers, the drain and timeouts only when one is set: one look
            // per wait otherwise.
            let (timeout, is_tick) = if core.has_timers() {
                if core.state != State::Running && core.state_done() {
                    break;
                }
                core.run_timers();
                core.next_timeout()
            } else {
                (None, false)
            };
            if core.config.trace {
                core.observer.event(&ServerEvent::Waiting);
            }
            self.selector.select(&mut self.events, timeout)?;
            let core = &mut self.core;
            if self.events.is_empty() && is_tick {
                if core.config.trace {
                    core.observer.event(&ServerEvent::TimedOut);
                }
                core.service.on_tick();
            }
            for ev in self.events.iter() {
                core.handle(ev);
            }
        }
        self.core.close_all();
        Ok(self.core.stats)
    }
}

fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::MFILE.raw_os_error()
            || code == rustix::io::Errno::NFILE.raw_os_error()
            || code == rustix::io::Errno::NOBUFS.raw_os_error()
            || code == rustix::io::Errno::NOMEM.raw_os_error()
    )
}

impl<S: Service> Core<S> {
    fn state_done(&mut self) -> bool {
        match self.state {
            State::Running => false,
            State::Stopped => true,
            // Every connection closes by itself once flushed (and, if the
            // peer was still sending, once it saw our end of file).
            State::Draining { deadline } => self.live == 0 || Instant::now() >= deadline,
        }
    }

    /// Whether the next wait has a timeout (else it blocks).
    #[inline]
    fn has_timers(&self) -> bool {
        self.config.tick.is_some()
            || self.accept_paused_until.is_some()
            || self.next_sweep.is_some()
            || self.next_linger_check.is_some()
            || self.state != State::Running
    }

    /// The timeout of the next wait, and whether it is the tick's.
    #[inline(never)]
    fn next_timeout(&self) -> (Option<Duration>, bool) {
        let mut timeout = self.config.tick;
        let mut is_tick = timeout.is_some();
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                let d = at.saturating_duration_since(Instant::now());
                if timeout.map_or(true, |t| d < t) {
                    timeout = Some(d);
                    is_tick = false;
                }
            }
        };
        consider(self.accept_paused_until);
        consider(self.next_sweep);
        consider(self.next_linger_check);
        if let State::Draining { deadline } = self.state {
            consider(Some(deadline));
        }
        (timeout, is_tick)
    }

    fn handle(&mut self, ev: &Event) {
        match ev.token() {
            LISTENER => self.accept_all(),
            WAKER => {
                if self.flag.swap(false, Ordering::SeqCst) {
                    self.begin_shutdown();
                }
            }
            SIGNALS => {
                let n = self.signals.as_mut().map_or(0, |s| s.drain());
                if n > 0 {
                    if matches!(self.state, State::Draining { .. }) || n > 1 {
                        self.state = State::Stopped;
                    } else {
                        self.begin_shutdown();
                    }
                }
            }
            Token(t) => self.conn_event(t - FIRST_CONN, ev),
        }
    }

    fn begin_shutdown(&mut self) {
        if self.state != State::Running {
            return;
        }
        if let Some(l) = self.listener.take() {
            if self.listener_registered {
                let _ = self.registry.deregister(&l);
            }
        }
        self.accept_paused_until = None;
        let mut pending = 0;
        for i in 0..self.conns.len() {
            if let Some(c) = &mut self.conns[i] {
                pending += c.pending();
                c.flags |= CLOSE_AFTER_FLUSH;
                self.update(i);
            }
        }
        self.observer.event(&ServerEvent::ShuttingDown {
            conns: self.live,
            pending,
        });
        self.state = State::Draining {
            deadline: Instant::now() + self.config.shutdown_grace,
        };
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
                            self.observer.event(&ServerEvent::AcceptPaused(&e, backoff));
                            self.exhaustion_logged = true;
                        }
                        if self.registry.deregister(listener).is_ok() {
                            self.listener_registered = false;
                        }
                        self.accept_paused_until = Some(Instant::now() + backoff);
                        return;
                    }
                    _ => {
                        self.observer.event(&ServerEvent::AcceptFailed(&e));
                        return;
                    }
                },
            };
            self.exhaustion_logged = false;
            if self.live >= self.config.max_conns {
                drop(stream);
                self.reject(peer);
                continue;
            }
            if let Err(e) = self.add(stream, peer) {
                self.observer.event(&ServerEvent::AcceptFailed(&e));
            }
        }
    }

    fn reject(&mut self, peer: SocketAddr) {
        self.stats.rejected += 1;
        self.rejected_unlogged += 1;
        let now = Instant::now();
        if self
            .last_reject_log
            .map_or(true, |t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.observer.event(&ServerEvent::Rejected {
                peer,
                count: self.rejected_unlogged,
                max_conns: self.config.max_conns,
            });
            self.rejected_unlogged = 0;
            self.last_reject_log = Some(now);
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
                self.conns.len() - 1
            }
        };
        if let Err(e) = self
            .registry
            .register(&stream, Token(FIRST_CONN + i), Interest::READABLE)
        {
            self.free.push(i);
            return Err(e);
        }
        self.conns[i] = Some(Connection {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            raw: std::os::fd::AsRawFd::as_raw_fd(&stream),
            stream,
            peer,
            out: Vec::new(),
            out_pos: 0,
            interest: Interest::READABLE,
            flags: 0,
            error: None,
            last_active: self.config.idle_timeout.map(|_| Instant::now()),
            linger_until: None,
        });
        self.live += 1;
        self.stats.accepted += 1;
        if self.config.trace {
            self.observer.event(&ServerEvent::Accepted(peer));
        }
        if let Some(c) = &mut self.conns[i] {
            let mut conn = Conn {
                c,
                stats: &mut self.stats,
                observer: &mut *self.observer,
                trace: self.config.trace,
            };
            self.service.on_connect(&mut conn);
        }
        self.update(i);
        Ok(())
    }

    #[inline]
    fn conn_event(&mut self, i: usize, ev: &Event) {
        let trace = self.config.trace;
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return; // closed earlier in this batch
        };
        if c.linger_until.is_some() {
            return self.linger(i);
        }
        // Flush first: it makes room before reading adds more.
        if c.pending() > 0 && (ev.is_writable() || ev.is_error() || ev.is_write_closed()) {
            flush(c, &mut self.stats, &mut *self.observer, trace);
        }
        let reading = c.interest.contains(Interest::READABLE);
        if reading
            && c.error.is_none()
            && (ev.is_readable() || ev.is_read_closed() || ev.is_error())
        {
            match read_retry(c, &mut self.read_buf) {
                Ok(0) => {
                    c.flags |= READ_CLOSED;
                    let mut conn = Conn {
                        c,
                        stats: &mut self.stats,
                        observer: &mut *self.observer,
                        trace,
                    };
                    self.service.on_read_closed(&mut conn);
                }
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    if let Some(t) = &mut c.last_active {
                        *t = Instant::now();
                    }
                    let data = &self.read_buf[..n];
                    if trace {
                        self.observer.event(&ServerEvent::Received(c.peer, data));
                    }
                    let mut conn = Conn {
                        c,
                        stats: &mut self.stats,
                        observer: &mut *self.observer,
                        trace,
                    };
                    self.service.on_data(&mut conn, data);
                }
                Err(rustix::io::Errno::AGAIN) => {}
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
        self.update(i);
    }

    /// Closes the connection if it is finished, else registers the interest
    /// its state needs (only when that changed).
    #[inline(never)]
    fn update(&mut self, i: usize) {
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
        if want != c.interest {
            match self
                .registry
                .reregister(&c.stream, Token(FIRST_CONN + i), want)
            {
                Ok(()) => c.interest = want,
                Err(e) => {
                    c.error = Some(e);
                    self.close(i, None);
                }
            }
        }
    }

    /// Closes a connection whose output is all sent but whose peer may still
    /// be sending. Closing a socket with unread input makes the kernel send
    /// a reset, which throws away what the peer has not read yet; so unread
    /// input is discarded first, and if more keeps coming the writing side
    /// is shut down (the peer sees end of file after the last byte) and
    /// input is discarded until the peer closes or
    /// [`Config::shutdown_grace`] passes (a "lingering close").
    fn linger(&mut self, i: usize) {
        let Some(c) = &mut self.conns[i] else {
            return;
        };
        for _ in 0..8 {
            match read_retry(c, &mut self.read_buf) {
                Ok(0) => {
                    c.flags |= READ_CLOSED;
                    return self.close(i, None);
                }
                Ok(_) => {}
                // Nothing unread: a close now sends end of file, not a reset.
                Err(rustix::io::Errno::AGAIN) => return self.close(i, None),
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
            let until = Instant::now() + self.config.shutdown_grace;
            c.linger_until = Some(until);
            self.lingering += 1;
            self.next_linger_check = Some(self.next_linger_check.map_or(until, |t| t.min(until)));
            if c.interest != Interest::READABLE {
                match self
                    .registry
                    .reregister(&c.stream, Token(FIRST_CONN + i), Interest::READABLE)
                {
                    Ok(()) => c.interest = Interest::READABLE,
                    Err(e) => {
                        c.error = Some(e);
                        self.close(i, None);
                    }
                }
            }
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
        if self.config.trace {
            let reason = match (&forced, &c.error) {
                (Some(CloseReason::Idle), _) => CloseReason::Idle,
                (Some(CloseReason::Shutdown(n)), _) => CloseReason::Shutdown(*n),
                (_, Some(e)) => CloseReason::Error(e),
                _ if c.has(READ_CLOSED) => CloseReason::Eof,
                _ => CloseReason::Done,
            };
            self.observer.event(&ServerEvent::Closed(c.peer, reason));
        }
        drop(c);
    }

    /// Resumes accepting after a pause, closes idle connections and ends
    /// lingering closes whose time is up (before each wait).
    #[inline(never)]
    fn run_timers(&mut self) {
        if self.accept_paused_until.is_none()
            && self.next_sweep.is_none()
            && self.next_linger_check.is_none()
        {
            return;
        }
        let now = Instant::now();
        if self.next_linger_check.is_some_and(|t| now >= t) {
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
            self.next_linger_check = next;
        }
        if self.accept_paused_until.is_some_and(|t| now >= t) {
            self.accept_paused_until = None;
            if let Some(l) = &self.listener {
                if self
                    .registry
                    .register(l, LISTENER, Interest::READABLE)
                    .is_ok()
                {
                    self.listener_registered = true;
                    // Level-triggered: pending connections are reported by
                    // the next wait.
                } else {
                    self.accept_paused_until = Some(now + self.config.accept_backoff);
                }
            }
        }
        if let (Some(at), Some(idle)) = (self.next_sweep, self.config.idle_timeout) {
            if now >= at {
                for i in 0..self.conns.len() {
                    let expired = self.conns[i]
                        .as_ref()
                        .and_then(|c| c.last_active)
                        .is_some_and(|t| now.duration_since(t) >= idle);
                    if expired {
                        self.close(i, Some(CloseReason::Idle));
                    }
                }
                self.next_sweep = Some(now + idle / 2);
            }
        }
    }

    fn close_all(&mut self) {
        if let Some(l) = self.listener.take() {
            if self.listener_registered {
                let _ = self.registry.deregister(&l);
            }
        }
        for i in 0..self.conns.len() {
            if let Some(c) = &self.conns[i] {
                let left = c.pending();
                self.stats.unsent_at_shutdown += left as u64;
                self.close(i, Some(CloseReason::Shutdown(left)));
            }
        }
    }
}

/// One write of the queued bytes (level-triggered: a partial write is
/// followed by another writable event).
fn flush(c: &mut Connection, stats: &mut Summary, observer: &mut dyn Observer, trace: bool) {
    match write_retry(c, &c.out[c.out_pos..]) {
        Ok(n) => {
            stats.bytes_out += n as u64;
            if trace {
                observer.event(&ServerEvent::Sent(c.peer, &c.out[c.out_pos..c.out_pos + n]));
            }
            c.out_pos += n;
            if let Some(t) = &mut c.last_active {
                *t = Instant::now();
            }
            if c.out_pos == c.out.len() {
                c.out_pos = 0;
                if c.out.capacity() > KEEP_OUT_CAPACITY {
                    c.out = Vec::new();
                } else {
                    c.out.clear();
                }
                if trace {
                    observer.event(&ServerEvent::QueueEmpty(c.peer));
                }
            }
        }
        Err(rustix::io::Errno::AGAIN) => {}
        Err(e) => c.error = Some(e.into()),
    }
}
