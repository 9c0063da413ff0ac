//! The portable front: a [`Selector`] that waits on the best mechanism of
//! the platform, or on one named for comparison and tests.
//!
//! Layers, top down: the front here ([`Selector`], [`Registry`],
//! [`Waker`]: argument checks, the `EINTR`/deadline loop) calls the
//! dispatch (`dispatch.rs`: one `match` per operation over the backends,
//! generated from one list), which calls a backend module (`epoll.rs`,
//! `kqueue.rs`, `poll.rs`, `select.rs`, the last two over the shared
//! registration table `table.rs`), which calls the OS layer (`crate::sys`).
//! A backend imports only `crate::sys`, the portable types of
//! `crate::event` and `crate::error`: never the public `select`, `poll` or
//! `epoll` modules.
//!
//! # Adding a backend
//!
//! Say io_uring, as `Backend::Uring` behind the cargo feature `uring`:
//!
//! 1. **The variant**: `Backend::Uring` in `selector/backend.rs`, with its
//!    arm in `is_available` (`cfg!(all(feature = "uring", target_os =
//!    "linux"))`), `supports_edge` and `name`, and in `Backend::ALL` (which
//!    gives `available()` and the parsing of `IOREADY_BACKEND`). The
//!    compiler points at every `match` that lacks it.
//! 2. **The OS module**: `sys/uring.rs`, declared in `sys/mod.rs` under the
//!    same cfg, holding every syscall and kernel struct the backend needs
//!    (and nothing about tokens or tables); list it in the contract at the
//!    top of `sys/mod.rs`. A dependency it needs (the `io-uring` crate) is
//!    optional in `crates/ioready/Cargo.toml`, enabled by the feature.
//! 3. **The selector module**: `selector/uring.rs`, declared below under
//!    the same cfg, with its registry type implementing `dispatch::Driver`
//!    (registrations and the waker) and its waiter type implementing
//!    `dispatch::Wait` (making the pair, and the wait; see the epoll
//!    backend for a kernel-side registry and `table.rs` for a user-space
//!    one), and one line in the `backends!` list at the bottom of
//!    `dispatch.rs`, naming the waiter:
//!    `#[cfg(all(feature = "uring", target_os = "linux"))] Uring => super::uring::Waiter,`.
//!    If the backend has one kernel object that is readable whenever a
//!    wait would report an event, override `Driver::as_fd` to return it
//!    (nesting, `Selector::try_as_fd`; for the ring only if registrations
//!    are submitted when made); the default answers `Unsupported`.
//!    `tests/nest.rs` then nests it (it asks each backend).
//!    Only the methods of `Driver` and `Wait` are needed: the enums,
//!    `Selector::with_backend`, `Registry`, `Waker` and the wait all reach
//!    the backend through that list. Events go into `Events` with
//!    `Events::push` (or, as epoll does, straight into its buffer when the
//!    kernel's record is `RawEvent`).
//! 4. **The tests**: one line in `for_each_selector_backend!` in
//!    `tests/common/mod.rs` (under the same cfg); the conformance,
//!    selector and zero-allocation suites then run on it.
//! 5. **CI**: in `.ci/run`, run the library suite again with
//!    `IOREADY_BACKEND=uring` (and `--features uring`), as for poll and
//!    select; add the backend to the README's list.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use crate::error;
use crate::event::{Events, Interest, Token, Trigger};
use crate::timeout;

mod backend;
mod dispatch;
#[cfg(ioready_epoll)]
mod epoll;
#[cfg(ioready_kqueue)]
mod kqueue;
mod own;
mod poll;
mod select;
mod table;
#[cfg(all(feature = "uring", target_os = "linux"))]
mod uring;

use backend::unsupported_backend;
pub use backend::Backend;
use dispatch::{Shared, Waiter, WakerInner};

/// Registers descriptors with a [`Selector`]; cheap to clone, and usable
/// from any thread, also while another thread waits (the new registration
/// takes effect in that wait).
///
/// # Sources should be non-blocking
///
/// Put what you register in non-blocking mode (`set_nonblocking(true)`,
/// `O_NONBLOCK`) and read, write or accept until `WouldBlock`. An event
/// says that an operation *may* proceed, not how much, nor that it still
/// can when you get to it; the selector never changes the mode of a
/// descriptor (it never touches the file), so this is the caller's part:
///
/// * with [`Trigger::Edge`] an event comes only when readiness changes, so
///   a reader must go on until `WouldBlock` or be left with data and no
///   event, and only a non-blocking descriptor answers `WouldBlock`
///   instead of blocking;
/// * level-triggered too, a handler that does several operations per event
///   (reads a whole message, accepts every pending connection, flushes a
///   queue) blocks on the first one that finds nothing;
/// * readiness can be spurious or stale: another thread or process sharing
///   the file may take the data first, a pending connection may be reset
///   before `accept`, a datagram with a bad checksum is dropped after it
///   was reported (select(2), BUGS), and a [`Waker`] or a nested selector
///   may end a wait with nothing for you.
///
/// On a blocking descriptor any of these stalls the whole event loop in
/// one call, with every other source waiting behind it.
///
/// # Descriptor lifetime (I/O safety): deregister before you close
///
/// `register` borrows the descriptor only for the call and keeps its
/// *number*, as `epoll_ctl` and `poll(2)` do. The selector never reads,
/// writes or closes a registered descriptor, so a misuse cannot touch memory
/// or another file's data; it can only produce events. **Deregister a
/// descriptor before you close it**: mio and polling require the same. If
/// you do not, what follows depends on the backend (and
/// `tests/regressions.rs` pins it down for each):
///
/// * **epoll** keys a registration on the open file *and* the number. It
///   lives as long as the file does: while another descriptor keeps the file
///   open (a `dup`, a child after `fork`), it goes on reporting that file's
///   readiness under its token, and it can no longer be removed by number
///   (`deregister_raw` gives `EBADF`, or `NotFound` once the number names
///   another file). It goes away when the file's last descriptor is closed.
///   A new file that reuses the number is a new registration: it can be
///   registered, and the old token is never reported for it. A regular file
///   or `/dev/null` (which epoll refuses, and this crate reports as always
///   ready) is forgotten by the first wait that finds its number closed or
///   naming another file.
/// * **kqueue** removes a registration when its descriptor is closed; a new
///   file that reuses the number must be registered afresh.
/// * **select** and **poll** key a registration on the number alone and keep
///   it until it is deregistered (`deregister_raw` works on a closed
///   number). While the number is closed, every wait reports it with
///   [`Event::is_invalid`](crate::Event::is_invalid) (and `is_error`), in the
///   same fair rotation as the other events. **Once another file reuses the
///   number**, the registration, with its old token and interest, reports
///   *that* file's readiness as ordinary readiness: nothing tells it apart
///   from an event of the closed file. Registering the reused number fails
///   with `AlreadyExists` until the old registration is removed.
/// * **io_uring** keeps it by number too, and its poll request, while armed
///   in the kernel, holds the file: the close alone closes nothing (a socket
///   is not shut down), and the file's events are still reported under its
///   token.
///   Once that request has completed, the re-arm names the closed number and
///   the registration is reported as invalid on every wait, as on poll;
///   registering the reused number fails with `AlreadyExists` until
///   `deregister_raw`, which cancels the request at once (so a close after
///   it closes, as on epoll). Dropping the selector lets go of every file
///   shortly after, as the kernel tears the ring down.
///
/// On every backend, a number that now names one of the selector's **own**
/// descriptors (a [`Waker`]'s, epoll's stand-in for a regular file, the
/// ring's) is out of reach: `register` refuses it (`InvalidInput`), and
/// `reregister`/`deregister_raw` never touch the selector's descriptor
/// (`NotFound` where no registration of yours has that number; on select,
/// poll and io_uring they act on your stale registration, which is reported
/// [`is_invalid`](crate::Event::is_invalid) meanwhile, never with the
/// selector's readiness).
///
/// On io_uring as on select and poll, a number closed and reused *before*
/// it is deregistered is watched, by number, for the new file under the old
/// registration. Deregistered first, it never is: on io_uring each
/// completion carries the registration's generation, and one that is not
/// current is dropped.
///
/// This is the choice of mio (`SourceFd`) rather than of polling (an
/// `unsafe` `add`): registration is a request to the kernel about a number,
/// and every backend here keeps the outcome of a stale number memory-safe
/// and defined, though not the same.
#[derive(Clone, Debug)]
pub struct Registry {
    shared: Shared,
}

fn check_interest(backend: Backend, interest: Interest) -> io::Result<()> {
    if interest.known().is_empty() {
        return Err(error::invalid_input(
            "interest: must include READABLE, WRITABLE, PRIORITY or READ_CLOSED",
        ));
    }
    if interest.contains(Interest::READ_CLOSED)
        && !interest.contains(Interest::READABLE)
        && !backend.supports_read_closed()
    {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "interest: the {} backend cannot report READ_CLOSED apart from data \
                 (add READABLE and read until 0, or use epoll, or poll on Linux)",
                backend.name()
            ),
        ));
    }
    Ok(())
}

impl Registry {
    /// The backend behind this registry.
    pub fn backend(&self) -> Backend {
        self.shared.backend()
    }

    /// Registers `fd` for `interest`, level-triggered; events carry `token`.
    ///
    /// # Errors
    ///
    /// * `AlreadyExists` if `fd` is registered already (use `reregister`).
    /// * `InvalidInput` if `interest` has none of the known bits.
    /// * `Unsupported` for [`Interest::READ_CLOSED`] without `READABLE` on a
    ///   backend that cannot tell it from data
    ///   ([`Backend::supports_read_closed`]).
    /// * The kernel's errors (`ENOMEM`, `ENOSPC`; `EMFILE`/`ENFILE` for a
    ///   regular file on epoll, see below), unchanged.
    ///
    /// Regular files and `/dev/null`, which epoll refuses with `EPERM`, are
    /// accepted on every backend and reported as always ready, as `poll(2)`
    /// does. (On epoll each takes two descriptors while registered: a
    /// stand-in the kernel reports in its stead, and a duplicate that keeps
    /// the file's identity its own.)
    pub fn register(&self, fd: impl AsFd, token: Token, interest: Interest) -> io::Result<()> {
        self.register_with(fd, token, interest, Trigger::Level)
    }

    /// [`register`](Self::register) with a [`Trigger`] mode.
    ///
    /// # Errors
    ///
    /// As `register`, plus `Unsupported` for [`Trigger::Edge`] on the select
    /// and poll backends.
    pub fn register_with(
        &self,
        fd: impl AsFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        check_interest(self.backend(), interest)?;
        let fd = fd.as_fd().as_raw_fd();
        self.shared.register(fd, token, interest, trigger)
    }

    /// Changes the token, interest or trigger of a registered descriptor, and
    /// re-arms a oneshot registration.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not registered; otherwise as `register_with`.
    pub fn reregister(&self, fd: impl AsFd, token: Token, interest: Interest) -> io::Result<()> {
        self.reregister_with(fd, token, interest, Trigger::Level)
    }

    /// [`reregister`](Self::reregister) with a [`Trigger`] mode.
    ///
    /// # Errors
    ///
    /// As `reregister`.
    pub fn reregister_with(
        &self,
        fd: impl AsFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        check_interest(self.backend(), interest)?;
        let fd = fd.as_fd().as_raw_fd();
        self.shared.reregister(fd, token, interest, trigger)
    }

    /// Removes a registration.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not registered (on epoll: this number for this
    /// file; see the lifetime rules of [`Registry`]).
    pub fn deregister(&self, fd: impl AsFd) -> io::Result<()> {
        self.deregister_raw(fd.as_fd().as_raw_fd())
    }

    /// [`deregister`](Self::deregister) by number: on select and poll, the
    /// way to drop the registration of a descriptor that was closed without
    /// deregistering (they report it, as invalid or, once the number is
    /// reused, as the new file, until then).
    ///
    /// # Errors
    ///
    /// As `deregister`, plus `InvalidInput` for a negative `fd` and, on
    /// epoll, `EBADF` for a number that is not open (the kernel cannot be
    /// asked about it; see the lifetime rules of [`Registry`]).
    pub fn deregister_raw(&self, fd: RawFd) -> io::Result<()> {
        error::check_fd(fd)?;
        self.shared.deregister(fd)
    }
}

/// Waits for readiness on many descriptors with the best (or a chosen)
/// kernel mechanism.
///
/// Register non-blocking descriptors and treat every event as a hint: see
/// [Sources should be non-blocking](Registry#sources-should-be-non-blocking).
/// On epoll and kqueue the selector is itself a pollable descriptor, so it
/// can be nested in another poller ([`try_as_fd`](Self::try_as_fd)).
///
/// ```
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use ioready::{Events, Interest, Selector, Token};
///
/// let mut selector = Selector::new()?;
/// let (a, mut b) = UnixStream::pair()?;
/// selector.registry().register(&a, Token(7), Interest::READABLE)?;
/// b.write_all(b"hello")?;
///
/// let mut events = Events::with_capacity(16);
/// selector.select(&mut events, Some(Duration::from_secs(1)))?;
/// let event = events.iter().next().unwrap();
/// assert_eq!(event.token(), Token(7));
/// assert!(event.is_readable());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Selector {
    registry: Registry,
    waiter: Waiter,
}

impl Selector {
    /// A selector on [`Backend::from_env`]: the `IOREADY_BACKEND` variable if
    /// set, else the best backend of the platform.
    ///
    /// # Errors
    ///
    /// Those of [`Backend::from_env`] and [`Selector::with_backend`].
    pub fn new() -> io::Result<Selector> {
        Selector::with_backend(Backend::from_env()?)
    }

    /// A selector on the named backend.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the platform lacks the backend; `EMFILE`/`ENFILE`
    /// when out of descriptors (epoll and kqueue need one; select and poll
    /// need one for their internal notifier).
    pub fn with_backend(backend: Backend) -> io::Result<Selector> {
        let (shared, waiter) = dispatch::open(backend)?;
        Ok(Selector {
            registry: Registry { shared },
            waiter,
        })
    }

    /// The backend this selector waits with.
    pub fn backend(&self) -> Backend {
        self.registry.backend()
    }

    /// The registry, to register descriptors; clone it to register from
    /// other threads.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The backend's kernel object (the epoll or kqueue descriptor), so that
    /// another poller can wait on this selector: it is readable while this
    /// selector has events for a wait to report.
    ///
    /// Register it for readability in another poller (another `Selector`
    /// on any backend, `select()`, `Poll`, `Epoll`, mio's `SourceFd`,
    /// tokio's `AsyncFd`, GLib's main loop); when that poller says it is
    /// readable, call [`select`](Self::select) here with a zero timeout
    /// to take the events. This is what mio's `AsRawFd for Poll`
    /// and polling's `AsFd for Poller` offer; those choose their backend
    /// when compiled, so they can be a trait. Here the backend is chosen at
    /// run time and select and poll have no such object, so this is a
    /// fallible method and there is no `AsFd` impl that could not keep its
    /// promise.
    ///
    /// # Level-triggered
    ///
    /// The descriptor behaves like a level-triggered source: the outer
    /// poller sees it readable for as long as a wait here would report
    /// something, not once per event. A level-triggered registration keeps
    /// it readable while its source is ready (until you read the data, not
    /// merely until a wait here reported it); an edge-triggered or oneshot
    /// one, until a wait here has reported it. So after the outer poller
    /// reports the selector, run a wait here before waiting outside again,
    /// or the outer wait returns at once. Registered edge-triggered outside
    /// (as tokio's `AsyncFd` does), the selector gives a new outer event
    /// only when new readiness arrives inside: after each one, handle all
    /// that the waits here report (wait again while they fill `events`),
    /// as you would read an edge-triggered socket until `WouldBlock`.
    ///
    /// On kqueue, a level-triggered source whose data was read may keep the
    /// descriptor readable until the next wait here, which then reports
    /// nothing (the kernel rechecks pending events when it collects them):
    /// a spurious wake-up, harmless with non-blocking sources.
    ///
    /// Not in the kernel object, so never making it readable: regular files
    /// and `/dev/null` registered on epoll (which the kernel refuses; the
    /// wait here reports them always ready, see [`Registry::register`]), so
    /// do not register those in a selector you nest. Timeouts stay with
    /// each poller: the outer one waits by its own.
    ///
    /// The descriptor is borrowed from the selector: never close it, and
    /// deregister it from the outer poller before dropping the selector. To
    /// hand the selector over whole (tokio's `AsyncFd` owns what it
    /// registers), wrap it in a type that keeps the number from
    /// `try_as_fd` and implements `AsRawFd`, as `tests/nest.rs` does.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use std::time::Duration;
    /// use ioready::{Backend, Events, Interest, Selector, Token};
    ///
    /// # if !Backend::Epoll.is_available() { return Ok(()); }
    /// let mut inner = Selector::with_backend(Backend::Epoll)?;
    /// let (a, mut b) = UnixStream::pair()?;
    /// inner.registry().register(&a, Token(7), Interest::READABLE)?;
    ///
    /// // Any backend can wait on it, here poll(2).
    /// let mut outer = Selector::with_backend(Backend::Poll)?;
    /// outer.registry().register(inner.try_as_fd()?, Token(1), Interest::READABLE)?;
    ///
    /// b.write_all(b"hello")?;
    /// let mut events = Events::with_capacity(16);
    /// outer.select(&mut events, Some(Duration::from_secs(5)))?;
    /// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(1)));
    /// inner.select(&mut events, Some(Duration::ZERO))?;
    /// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(7)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `Unsupported`, with a message naming the backend and why, on the
    /// select and poll backends (they keep their registrations in user space
    /// and have no descriptor that stands for them) and on io_uring (its
    /// poll requests are submitted and re-armed only by its own waits, so its
    /// ring is no sign of readiness) (use epoll or kqueue to nest, or
    /// register the inner descriptors in the outer poller directly).
    pub fn try_as_fd(&self) -> io::Result<BorrowedFd<'_>> {
        let shared = &self.registry.shared;
        shared
            .as_fd()
            .ok_or_else(|| error::not_nestable(shared.backend().name()))
    }

    /// Waits for events into `events` (cleared first).
    ///
    /// `timeout`: `None` blocks until an event, `Some(Duration::ZERO)` polls,
    /// otherwise at most that long and never less. Returns with `events`
    /// empty on expiry. `EINTR` is retried with the time that remains.
    ///
    /// In steady state this allocates nothing and, on epoll, makes one
    /// syscall.
    ///
    /// # Errors
    ///
    /// The kernel's errors of the wait, unchanged (`EBADF` on select when a
    /// descriptor was closed and cannot be singled out, `ENOMEM`, ...).
    #[inline]
    pub fn select(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        if timeout.is_none() {
            // The hot path of a server: one attempt, no clock, no deadline;
            // the retry machinery (out of line) only when it must resume.
            match self.select_once(events, None) {
                Ok(n) if n > 0 => return Ok(()),
                Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
                _ => {}
            }
        }
        self.select_resuming(events, timeout)
    }

    /// [`select`](Self::select) with its deadline and `EINTR` handling: a
    /// finite timeout, or a blocking wait that must be resumed.
    #[cold]
    #[inline(never)]
    fn select_resuming(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        timeout::wait(timeout, |remaining| self.select_once(events, remaining))?;
        Ok(())
    }

    /// One wait without the `EINTR` retry: a signal gives
    /// `ErrorKind::Interrupted`. On select and poll, a wait ended only by a
    /// registration change returns with no events.
    ///
    /// # Errors
    ///
    /// As [`select`](Self::select), plus `Interrupted`.
    #[inline]
    pub fn select_once(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        events.clear();
        self.registry
            .shared
            .select(&mut self.waiter, events, timeout)
    }
}

/// Ends a wait from another thread: the waiting [`Selector`] reports an
/// event with the waker's token (readable).
///
/// Several wakers may serve one selector, each with its own token. Wakes
/// **coalesce**: any number of `wake` calls before the selector reports the
/// event produce one event, not one per call (it is a signal, not a
/// counter). A wake is never lost: one sent before the wait starts, or while
/// the wait is being retried after `EINTR`, ends that wait.
///
/// Built on an `eventfd` on Linux (registered edge-triggered on epoll, so no
/// read is needed to re-arm it), `EVFILT_USER` on kqueue, and a pipe
/// elsewhere.
#[derive(Debug)]
pub struct Waker {
    inner: WakerInner,
}

impl Waker {
    /// A waker registered with `registry` under `token`.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors; the registration's errors.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Waker> {
        let inner = registry.shared.waker(token)?;
        Ok(Waker { inner })
    }

    /// Wakes the selector (or makes its next wait return at once).
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors of the underlying write (none are known
    /// to occur in practice).
    pub fn wake(&self) -> io::Result<()> {
        self.inner.wake()
    }
}
