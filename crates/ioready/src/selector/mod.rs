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
//!    the same cfg, with a unit type implementing `dispatch::Driver`
//!    (registry, waiter, waker; see the epoll backend for a kernel-side
//!    registry and `table.rs` for a user-space one), and one line in the
//!    `backends!` list at the bottom of `dispatch.rs`:
//!    `#[cfg(all(feature = "uring", target_os = "linux"))] Uring => super::uring::Uring,`.
//!    Only `Driver`'s methods are needed: the enums, `Selector::with_backend`,
//!    `Registry`, `Waker` and the wait all reach the backend through that
//!    list. Events go into `Events` with `Events::push` (or, as epoll does,
//!    straight into its buffer when the kernel's record is `RawEvent`).
//! 4. **The tests**: one line in `for_each_selector_backend!` in
//!    `tests/common/mod.rs` (under the same cfg); the conformance,
//!    selector and zero-allocation suites then run on it.
//! 5. **CI**: in `.ci/run`, run the library suite again with
//!    `IOREADY_BACKEND=uring` (and `--features uring`), as for poll and
//!    select; add the backend to the README's list.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
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
mod poll;
mod select;
mod table;

use backend::unsupported_backend;
pub use backend::Backend;
use dispatch::{Shared, Waiter, WakerInner};

/// Registers descriptors with a [`Selector`]; cheap to clone, and usable
/// from any thread, also while another thread waits (the new registration
/// takes effect in that wait).
///
/// # Descriptor lifetime (I/O safety)
///
/// `register` borrows the descriptor only for the call and keeps its
/// *number*, as `epoll_ctl` and `poll(2)` do. The selector never reads,
/// writes or closes a registered descriptor, so a misuse cannot touch memory
/// or another file's data; it can only produce events. Deregister before you
/// close. If you do not:
///
/// * epoll and kqueue forget the registration when the last descriptor for
///   the file is closed (a regular file on epoll, which the kernel refuses
///   and this crate reports as always ready, is forgotten as soon as its
///   number is closed or names another file);
/// * select and poll keep it and report it on every wait as an event with
///   [`Event::is_invalid`](crate::Event::is_invalid) (and `is_error`) until
///   it is deregistered; registering the reused number fails with
///   `AlreadyExists` until then.
///
/// This is the choice of mio (`SourceFd`) rather than of polling (an
/// `unsafe` `add`): registration is a request to the kernel about a number,
/// and every backend here keeps the outcome of a stale number well defined.
#[derive(Clone, Debug)]
pub struct Registry {
    shared: Shared,
}

fn check_interest(interest: Interest) -> io::Result<()> {
    if interest.known().is_empty() {
        return Err(error::invalid_input(
            "interest: must include READABLE, WRITABLE, PRIORITY or READ_CLOSED",
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
    /// * The kernel's errors (`ENOMEM`, `ENOSPC`), unchanged.
    ///
    /// Regular files and `/dev/null`, which epoll refuses with `EPERM`, are
    /// accepted on every backend and reported as always ready, as `poll(2)`
    /// does. (On epoll, one registered from another thread during a wait is
    /// reported from the next wait on.)
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
        check_interest(interest)?;
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
        check_interest(interest)?;
        let fd = fd.as_fd().as_raw_fd();
        self.shared.reregister(fd, token, interest, trigger)
    }

    /// Removes a registration.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not registered (on epoll also `EBADF` if it was
    /// closed, which removed the registration already).
    pub fn deregister(&self, fd: impl AsFd) -> io::Result<()> {
        self.deregister_raw(fd.as_fd().as_raw_fd())
    }

    /// [`deregister`](Self::deregister) by number: the way to drop the
    /// registration of a descriptor that was closed without deregistering
    /// (select and poll backends keep reporting it as invalid until then).
    ///
    /// # Errors
    ///
    /// As `deregister`, plus `InvalidInput` for a negative `fd`.
    pub fn deregister_raw(&self, fd: RawFd) -> io::Result<()> {
        error::check_fd(fd)?;
        self.shared.deregister(fd)
    }
}

/// Waits for readiness on many descriptors with the best (or a chosen)
/// kernel mechanism.
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
