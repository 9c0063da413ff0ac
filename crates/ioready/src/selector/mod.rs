//! The portable front: a [`Selector`] that waits on the best mechanism of
//! the platform, or on one named for comparison and tests.
//!
//! Each backend lives in its own module with the same shape: a `Registry`
//! (the shared, thread-safe side: register, reregister, deregister, wakers)
//! and a `Waiter` (the state of the thread that waits).

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use crate::error;
use crate::event::{Events, Interest, Token, Trigger};
use crate::timeout;

#[cfg(ioready_epoll)]
mod epoll;
#[cfg(ioready_kqueue)]
mod kqueue;
mod poll;
mod select;
mod table;
#[cfg(all(feature = "uring", target_os = "linux"))]
mod uring;

/// The kernel mechanism a [`Selector`] waits with.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `select(2)`: every Unix; O(highest fd) per wait; no `FD_SETSIZE` limit
    /// here. Level-triggered and emulated oneshot only.
    Select,
    /// `poll(2)`: every Unix; O(registered) per wait. Level-triggered and
    /// emulated oneshot only.
    Poll,
    /// `epoll(7)`: Linux; O(ready) per wait. Level, edge and oneshot.
    Epoll,
    /// `kqueue(2)`: macOS and the BSDs; O(ready) per wait. Level, edge and
    /// oneshot. (Not exercised by this project's CI, which runs on Linux.)
    Kqueue,
    /// io_uring poll requests: Linux with the cargo feature `uring`; level,
    /// edge and oneshot. Registration changes cost no system call (they
    /// ride in the next wait's `io_uring_enter`); a wait is one call.
    /// Refused where io_uring is (seccomp, `kernel.io_uring_disabled`):
    /// [`Selector::with_backend`] then fails with the reason.
    Uring,
}

impl Backend {
    /// The best backend for this platform: epoll on Linux, kqueue on macOS
    /// and the BSDs, poll elsewhere.
    pub const fn best() -> Backend {
        if cfg!(ioready_epoll) {
            Backend::Epoll
        } else if cfg!(ioready_kqueue) {
            Backend::Kqueue
        } else {
            Backend::Poll
        }
    }

    /// True if this platform has the backend.
    pub const fn is_available(self) -> bool {
        match self {
            Backend::Select | Backend::Poll => true,
            Backend::Epoll => cfg!(ioready_epoll),
            Backend::Kqueue => cfg!(ioready_kqueue),
            Backend::Uring => cfg!(all(feature = "uring", target_os = "linux")),
        }
    }

    /// The backends this platform has, best last.
    pub fn available() -> impl Iterator<Item = Backend> {
        [
            Backend::Select,
            Backend::Poll,
            Backend::Epoll,
            Backend::Kqueue,
            Backend::Uring,
        ]
        .into_iter()
        .filter(|b| b.is_available())
    }

    /// True if registrations may use [`Trigger::Edge`].
    pub const fn supports_edge(self) -> bool {
        matches!(self, Backend::Epoll | Backend::Kqueue | Backend::Uring)
    }

    /// The lowercase name (`"select"`, `"poll"`, `"epoll"`, `"kqueue"`).
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Select => "select",
            Backend::Poll => "poll",
            Backend::Epoll => "epoll",
            Backend::Kqueue => "kqueue",
            Backend::Uring => "uring",
        }
    }

    /// The backend [`Selector::new`] uses: the one named by the environment
    /// variable `IOREADY_BACKEND` (`select`, `poll`, `epoll`, `kqueue` or
    /// `auto`), else [`Backend::best`]. The variable exists so that a whole
    /// program (or test suite) can be run on another backend without being
    /// rebuilt.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the variable names no backend, `Unsupported` if it
    /// names one this platform lacks.
    pub fn from_env() -> io::Result<Backend> {
        match std::env::var("IOREADY_BACKEND") {
            Ok(name) if name.is_empty() || name == "auto" => Ok(Backend::best()),
            Ok(name) => {
                let b: Backend = name.parse()?;
                if b.is_available() {
                    Ok(b)
                } else {
                    Err(unsupported_backend(b))
                }
            }
            Err(_) => Ok(Backend::best()),
        }
    }
}

fn unsupported_backend(b: Backend) -> io::Error {
    if b == Backend::Uring && cfg!(target_os = "linux") {
        return io::Error::new(
            io::ErrorKind::Unsupported,
            "the uring backend is not available: ioready was built without its cargo feature `uring`",
        );
    }
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("the {} backend is not available on this platform", b.name()),
    )
}

impl std::str::FromStr for Backend {
    type Err = io::Error;

    /// Parses `select`, `poll`, `epoll`, `kqueue` (and `auto` for the best).
    fn from_str(s: &str) -> io::Result<Backend> {
        match s.to_ascii_lowercase().as_str() {
            "select" => Ok(Backend::Select),
            "poll" => Ok(Backend::Poll),
            "epoll" => Ok(Backend::Epoll),
            "kqueue" => Ok(Backend::Kqueue),
            "uring" => Ok(Backend::Uring),
            "auto" => Ok(Backend::best()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "backend: unknown name {s:?} (expected auto, select, poll, epoll, kqueue or uring)"
                ),
            )),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The shared side of a backend.
#[derive(Clone, Debug)]
enum Shared {
    #[cfg(ioready_epoll)]
    Epoll(Arc<epoll::Registry>),
    #[cfg(ioready_kqueue)]
    Kqueue(Arc<kqueue::Registry>),
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring(Arc<uring::Registry>),
    /// select and poll share the user-space registration table.
    Table(Arc<table::Registry>),
}

/// The waiting side of a backend.
#[derive(Debug)]
enum Waiter {
    #[cfg(ioready_epoll)]
    Epoll,
    #[cfg(ioready_kqueue)]
    Kqueue(kqueue::Waiter),
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring(Box<uring::Waiter>),
    Poll(poll::Waiter),
    /// Boxed: its `fd_set`s keep 1024 descriptors inline.
    Select(Box<select::Waiter>),
}

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
/// * io_uring keeps it too, and its poll request, while armed in the
///   kernel, holds the file: the close alone closes nothing (a socket is not
///   shut down), and the file's events are still reported under its token.
///   Once that request has completed, the re-arm names the closed number and
///   the registration is reported as invalid on every wait, as on poll;
///   registering the reused number fails with `AlreadyExists` until
///   `deregister_raw`. On this backend a deregistration lets go of the file
///   at the next wait, when its cancellation is submitted (dropping the
///   selector lets go of every file shortly after, as the kernel tears the
///   ring down).
///
/// As on select and poll, a number closed and reused *before* it is
/// deregistered is watched, by number, for the new file under the old
/// registration. Deregistered first, it never is: on io_uring each
/// completion carries the registration's generation, and one that is not
/// current is dropped.
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
        match &self.shared {
            #[cfg(ioready_epoll)]
            Shared::Epoll(_) => Backend::Epoll,
            #[cfg(ioready_kqueue)]
            Shared::Kqueue(_) => Backend::Kqueue,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Shared::Uring(_) => Backend::Uring,
            Shared::Table(t) => t.backend(),
        }
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
        match &self.shared {
            #[cfg(ioready_epoll)]
            Shared::Epoll(r) => r.register(fd, token, interest, trigger),
            #[cfg(ioready_kqueue)]
            Shared::Kqueue(r) => r.register(fd, token, interest, trigger),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Shared::Uring(r) => r.register(fd, token, interest, trigger),
            Shared::Table(r) => r.register(fd, token, interest, trigger),
        }
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
        match &self.shared {
            #[cfg(ioready_epoll)]
            Shared::Epoll(r) => r.reregister(fd, token, interest, trigger),
            #[cfg(ioready_kqueue)]
            Shared::Kqueue(r) => r.reregister(fd, token, interest, trigger),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Shared::Uring(r) => r.reregister(fd, token, interest, trigger),
            Shared::Table(r) => r.reregister(fd, token, interest, trigger),
        }
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
        match &self.shared {
            #[cfg(ioready_epoll)]
            Shared::Epoll(r) => r.deregister(fd),
            #[cfg(ioready_kqueue)]
            Shared::Kqueue(r) => r.deregister(fd),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Shared::Uring(r) => r.deregister(fd),
            Shared::Table(r) => r.deregister(fd),
        }
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
        let (shared, waiter) = match backend {
            #[cfg(ioready_epoll)]
            Backend::Epoll => (
                Shared::Epoll(Arc::new(epoll::Registry::new()?)),
                Waiter::Epoll,
            ),
            #[cfg(ioready_kqueue)]
            Backend::Kqueue => (
                Shared::Kqueue(Arc::new(kqueue::Registry::new()?)),
                Waiter::Kqueue(kqueue::Waiter::default()),
            ),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Backend::Uring => {
                let (r, w) = uring::new()?;
                (Shared::Uring(Arc::new(r)), Waiter::Uring(Box::new(w)))
            }
            Backend::Poll => (
                Shared::Table(Arc::new(table::Registry::new(Backend::Poll)?)),
                Waiter::Poll(poll::Waiter::default()),
            ),
            Backend::Select => (
                Shared::Table(Arc::new(table::Registry::new(Backend::Select)?)),
                Waiter::Select(Box::default()),
            ),
            #[allow(unreachable_patterns)]
            other => return Err(unsupported_backend(other)),
        };
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
        match (&self.registry.shared, &mut self.waiter) {
            #[cfg(ioready_epoll)]
            (Shared::Epoll(r), Waiter::Epoll) => r.select(events, timeout),
            #[cfg(ioready_kqueue)]
            (Shared::Kqueue(r), Waiter::Kqueue(w)) => w.select(r, events, timeout),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            (Shared::Uring(r), Waiter::Uring(w)) => w.select(r, events, timeout),
            (Shared::Table(r), Waiter::Poll(w)) => w.select(r, events, timeout),
            (Shared::Table(r), Waiter::Select(w)) => w.select(r, events, timeout),
            #[allow(unreachable_patterns)]
            _ => unreachable!("a selector's registry and waiter always match"),
        }
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

#[derive(Debug)]
enum WakerInner {
    #[cfg(ioready_epoll)]
    Epoll(epoll::Waker),
    #[cfg(ioready_kqueue)]
    Kqueue(kqueue::Waker),
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring(uring::Waker),
    Table(table::Waker),
}

impl Waker {
    /// A waker registered with `registry` under `token`.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors; the registration's errors.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Waker> {
        let inner = match &registry.shared {
            #[cfg(ioready_epoll)]
            Shared::Epoll(r) => WakerInner::Epoll(epoll::Waker::new(r, token)?),
            #[cfg(ioready_kqueue)]
            Shared::Kqueue(r) => WakerInner::Kqueue(kqueue::Waker::new(r, token)?),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Shared::Uring(r) => WakerInner::Uring(uring::Waker::new(r, token)?),
            Shared::Table(r) => WakerInner::Table(table::Waker::new(r, token)?),
        };
        Ok(Waker { inner })
    }

    /// Wakes the selector (or makes its next wait return at once).
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors of the underlying write (none are known
    /// to occur in practice).
    pub fn wake(&self) -> io::Result<()> {
        match &self.inner {
            #[cfg(ioready_epoll)]
            WakerInner::Epoll(w) => w.wake(),
            #[cfg(ioready_kqueue)]
            WakerInner::Kqueue(w) => w.wake(),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            WakerInner::Uring(w) => w.wake(),
            WakerInner::Table(w) => w.wake(),
        }
    }
}
