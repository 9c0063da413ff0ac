//! The OS layer: the only place in the crate that calls the kernel or lays
//! out a kernel struct. Everything above it (the public `select()`, `Poll`,
//! `Epoll`, and the `Selector` with its backends) is portable Rust over
//! these pieces; no module above `sys` names a syscall.
//!
//! # The contract
//!
//! Each piece below is written once, for every platform it exists on, with
//! the platform differences behind item-level `#[cfg]`s here. Above this
//! layer a cfg only decides which backends and public types exist (the
//! `Epoll` type, a backend module, a line in the backend list), never how
//! a call is made:
//!
//! * [`event`]: `RawEvent`, the kernel's own event record on epoll
//!   platforms (so the kernel writes events straight into the caller's
//!   [`Events`](crate::Events)), an equivalent pair elsewhere, and
//!   `new(token, bits)`, `token(&RawEvent)`, `flags(&RawEvent)`. Event bits
//!   are always in Linux's `POLL*`/`EPOLL*` numbering
//!   ([`event::bits`]); a backend on another platform translates into it.
//! * [`select`]: `FdSet` (the kernel's `fd_set` words, growable past
//!   `FD_SETSIZE`), `FdSets` and one `select(2)` call (`pselect6`).
//! * [`poll`]: `pollfd(fd, events)`, `poll_once` (`poll(2)` for no timeout
//!   or whole milliseconds, `ppoll` for the rest), and the translation of
//!   this platform's `POLL*` values to event bits and back.
//! * `epoll` (`ioready_epoll`): `create`, `add`/`modify`/`delete` over one
//!   private `ctl`, and `wait_into` (`epoll_pwait2` for sub-millisecond
//!   timeouts, with its `ENOSYS` fallback latched for the process).
//! * `kqueue` (`ioready_kqueue`): `new`, `set_filters` (read and write
//!   filters changed with `EV_RECEIPT`, one error per change), `wait_into`,
//!   `token_and_bits` (a `kevent` as event bits) and `user_event` (the
//!   `EVFILT_USER` event behind the waker).
//! * `uring` (Linux, cargo feature `uring`): `Ring` (an io_uring instance
//!   set up with probing, one `io_uring_enter` that submits and waits with
//!   its timeout in the call's own argument), `BufRing` (a provided buffer
//!   ring) and the refusals named in words. The ring's memory protocol is
//!   the `io-uring` crate's; this module is the only user of it, and the
//!   public `uring` module and the io_uring selector backend sit on it.
//! * [`notify`]: `Notifier`, a descriptor another thread can make readable
//!   (an `eventfd` on epoll platforms, a non-blocking pipe elsewhere).
//! * The event sources' kernel objects: [`signal`] (the process-wide
//!   `sigaction` handler and its lock-free list of owners, every Unix),
//!   `Timer` (a `timerfd` on Linux, an `EVFILT_TIMER` kqueue on macOS and
//!   the BSDs) and `Process` (a `pidfd` on Linux, an `EVFILT_PROC` kqueue
//!   elsewhere): each is a descriptor every backend can wait on, with
//!   `set`/`cancel`/`acknowledge` and `open`/`try_wait`/`kill`; where
//!   neither exists, making one says `Unsupported`.
//! * [`borrow_number`], [`is_open`], [`identity`], [`duplicate`]:
//!   descriptor *numbers* handed to calls that only look them up (or take
//!   a new reference to the file named); [`Errno`], the kernel's error
//!   numbers.
//!
//! Every function here takes timeouts as `Option<Duration>` (`None` blocks)
//! and does one attempt: `EINTR` comes back as `Interrupted`, and the
//! retrying and the deadline are `timeout.rs`'s job, above this layer.
//! Errors are the kernel's, as `io::Error` with the OS code kept.
//!
//! A new kernel mechanism is one more module here with the same shape (as
//! `uring` is): the syscalls and structs, nothing about tokens or tables.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

/// The kernel's error numbers, for the backends that branch on one.
pub(crate) use rustix::io::Errno;

pub(crate) mod event;
pub(crate) mod notify;
pub(crate) mod poll;
pub(crate) mod select;

#[cfg(ioready_epoll)]
pub(crate) mod epoll;
#[cfg(ioready_kqueue)]
pub(crate) mod kqueue;
#[cfg(all(feature = "uring", target_os = "linux"))]
pub(crate) mod uring;

// The event sources (`crate::source`). timerfd and pidfd are Linux's
// whether or not the epoll backend is built.
pub(crate) mod signal;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod pidfd;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod timerfd;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use {pidfd::Process, timerfd::Timer};

#[cfg(all(ioready_kqueue, not(any(target_os = "linux", target_os = "android"))))]
mod kqueue_sources;
#[cfg(all(ioready_kqueue, not(any(target_os = "linux", target_os = "android"))))]
pub(crate) use kqueue_sources::{Process, Timer};

#[cfg(not(any(ioready_kqueue, target_os = "linux", target_os = "android")))]
mod unsupported_sources;
#[cfg(not(any(ioready_kqueue, target_os = "linux", target_os = "android")))]
pub(crate) use unsupported_sources::{Process, Timer};

/// A caller's descriptor *number*, as the borrowed descriptor the rustix
/// call for a registration or a wait takes.
///
/// Registrations keep numbers, not borrows (as `epoll_ctl` and `poll(2)`
/// do; see [`Registry`](crate::Registry)), so the calls that pass them back
/// to the kernel need a `BorrowedFd` that no lifetime can vouch for. Every
/// call this is used for (`epoll_ctl`, `poll`, `fstat`, `fcntl(F_GETFD)`,
/// and `fcntl(F_DUPFD_CLOEXEC)` while the caller lends the descriptor)
/// only looks the number up in the descriptor table: a number that is not
/// open gives `EBADF` (or `POLLNVAL`), and one that names another file since
/// is only asked about. Nothing is read, written or closed through the
/// result: keep it inside this layer, and pass it only to such calls.
#[inline]
pub(crate) fn borrow_number(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the kernel only reads the number (see above); no I/O is done
    // through the borrow, so no open file is relied upon to outlive it.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// True if `fd` is an open descriptor (`fcntl(F_GETFD)` does not fail with
/// `EBADF`).
pub(crate) fn is_open(fd: RawFd) -> bool {
    rustix::io::fcntl_getfd(borrow_number(fd)) != Err(rustix::io::Errno::BADF)
}

/// A descriptor of our own for the file a caller's descriptor names
/// (`fcntl(F_DUPFD_CLOEXEC)`), for a registration that must keep the file
/// open while it lasts. Only during a call that borrows `fd`.
#[cfg_attr(not(ioready_epoll), allow(dead_code))]
pub(crate) fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(borrow_number(fd), 0)?)
}

/// The device and inode of the file a descriptor number names, or `None`
/// if the number is not open: tells "the same file" from "the number was
/// closed and reused".
#[cfg_attr(not(ioready_epoll), allow(dead_code))]
pub(crate) fn identity(fd: RawFd) -> Option<(u64, u64)> {
    let st = rustix::fs::fstat(borrow_number(fd)).ok()?;
    #[allow(clippy::unnecessary_cast)] // the field types differ by platform
    Some((st.st_dev as u64, st.st_ino as u64))
}
