//! Linux `epoll(7)`, as Python's `select.epoll`: register descriptors with
//! `EPOLL*` masks, wait into a caller-provided buffer.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::check_fd;
use crate::flags::flag_set;
use crate::sys::epoll::{self as sys_epoll, wait_into, Flags as EventFlags};
use crate::timeout;

flag_set! {
    /// The `EPOLL*` bits: events, and the modes `ET`, `ONESHOT`,
    /// `EXCLUSIVE`. Unknown bits are passed to the kernel as they are.
    #[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "android"))))]
    pub struct EpollFlags(u32);
    /// Data to read.
    const IN = EventFlags::IN.bits();
    /// Writing will not block.
    const OUT = EventFlags::OUT.bits();
    /// Priority data (TCP urgent data, GPIO sysfs edges; may be used without `IN`).
    const PRI = EventFlags::PRI.bits();
    /// Error condition (always reported).
    const ERR = EventFlags::ERR.bits();
    /// Hang up (always reported).
    const HUP = EventFlags::HUP.bits();
    /// The peer shut down writing.
    const RDHUP = EventFlags::RDHUP.bits();
    /// Normal data to read.
    const RDNORM = EventFlags::RDNORM.bits();
    /// Priority band data to read.
    const RDBAND = EventFlags::RDBAND.bits();
    /// Normal data may be written.
    const WRNORM = EventFlags::WRNORM.bits();
    /// Priority data may be written.
    const WRBAND = EventFlags::WRBAND.bits();
    /// `EPOLLMSG` (unused by the kernel).
    const MSG = EventFlags::MSG.bits();
    /// Edge-triggered: report each arrival of readiness once.
    const ET = EventFlags::ET.bits();
    /// Disarm after one event, until `modify`.
    const ONESHOT = EventFlags::ONESHOT.bits();
    /// Wake only one of several epoll instances waiting on the same
    /// descriptor (only with `add`; `modify` refuses it with `EINVAL`).
    const EXCLUSIVE = EventFlags::EXCLUSIVE.bits();
    /// Keep the system from suspending while the event is pending.
    const WAKEUP = EventFlags::WAKEUP.bits();
}

/// An epoll instance: a close-on-exec descriptor, closed on drop.
///
/// Registration is by descriptor with a 64-bit user value (`data`) that
/// comes back with each event; Python uses the descriptor number as `data`.
/// The kernel removes a registration by itself when the last descriptor for
/// the registered file is closed.
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "android"))))]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new epoll instance (`epoll_create1(EPOLL_CLOEXEC)`).
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors, `ENOMEM`.
    pub fn new() -> io::Result<Self> {
        Ok(Epoll {
            fd: sys_epoll::create()?,
        })
    }

    /// Adopts an existing epoll descriptor (Python's `epoll.fromfd`).
    ///
    /// # Errors
    ///
    /// None: the descriptor is not checked; a non-epoll descriptor makes
    /// later calls fail with `EINVAL`.
    pub fn from_owned_fd(fd: OwnedFd) -> Self {
        Epoll { fd }
    }

    /// Registers `fd` with `events` and the user value `data`.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` (`EEXIST`) if `fd` is already registered; `EPERM` for
    /// files epoll cannot watch (regular files, `/dev/null`); `EINVAL` for bad
    /// flag combinations; `ENOSPC` past `max_user_watches`.
    pub fn add(&self, fd: impl AsFd, data: u64, events: EpollFlags) -> io::Result<()> {
        self.add_raw(fd.as_fd().as_raw_fd(), data, events)
    }

    /// [`add`](Self::add) by descriptor number.
    ///
    /// # Errors
    ///
    /// As `add`, plus `InvalidInput` for a negative `fd` and `EBADF` for a
    /// closed one.
    pub fn add_raw(&self, fd: RawFd, data: u64, events: EpollFlags) -> io::Result<()> {
        check_fd(fd)?;
        sys_epoll::add(self.fd.as_fd(), fd, data, events.bits())
    }

    /// Changes the mask and user value of a registered descriptor; re-arms a
    /// oneshot registration.
    ///
    /// # Errors
    ///
    /// `NotFound` (`ENOENT`) if `fd` is not registered, `EBADF` if closed,
    /// `InvalidInput` if negative, `EINVAL` with `EXCLUSIVE`.
    pub fn modify_raw(&self, fd: RawFd, data: u64, events: EpollFlags) -> io::Result<()> {
        check_fd(fd)?;
        sys_epoll::modify(self.fd.as_fd(), fd, data, events.bits())
    }

    /// [`modify_raw`](Self::modify_raw) for an `AsFd` value.
    ///
    /// # Errors
    ///
    /// As `modify_raw`.
    pub fn modify(&self, fd: impl AsFd, data: u64, events: EpollFlags) -> io::Result<()> {
        self.modify_raw(fd.as_fd().as_raw_fd(), data, events)
    }

    /// Removes a registration.
    ///
    /// # Errors
    ///
    /// `NotFound` (`ENOENT`) if not registered, `EBADF` if `fd` is closed,
    /// `InvalidInput` if negative.
    pub fn delete_raw(&self, fd: RawFd) -> io::Result<()> {
        check_fd(fd)?;
        sys_epoll::delete(self.fd.as_fd(), fd)
    }

    /// [`delete_raw`](Self::delete_raw) for an `AsFd` value.
    ///
    /// # Errors
    ///
    /// As `delete_raw`.
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        self.delete_raw(fd.as_fd().as_raw_fd())
    }

    /// Waits for events into `events` (cleared first), retrying `EINTR` with
    /// the time that remains. Returns the number of events.
    ///
    /// `timeout`: `None` blocks, zero polls, otherwise at most that long and
    /// never less; sub-millisecond parts are honoured with `epoll_pwait2`
    /// (Linux 5.11+), else rounded up to the next millisecond.
    ///
    /// # Errors
    ///
    /// `EBADF`/`EINVAL` if this is not a valid epoll descriptor.
    pub fn wait(&self, events: &mut EpollEvents, timeout: Option<Duration>) -> io::Result<usize> {
        timeout::wait(timeout, |remaining| {
            events.buf.clear();
            wait_into(self.fd.as_fd(), &mut events.buf, remaining)
        })
    }

    /// One wait without the `EINTR` retry (`Interrupted` is returned).
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait), plus `Interrupted`.
    pub fn wait_once(
        &self,
        events: &mut EpollEvents,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        events.buf.clear();
        wait_into(self.fd.as_fd(), &mut events.buf, timeout)
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<Epoll> for OwnedFd {
    fn from(e: Epoll) -> OwnedFd {
        e.fd
    }
}

impl IntoRawFd for Epoll {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl FromRawFd for Epoll {
    /// # Safety
    ///
    /// `fd` must be an open descriptor that the new `Epoll` owns.
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        // SAFETY: forwarded to the caller (see above).
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Epoll { fd }
    }
}

/// A buffer of epoll events with a fixed capacity, reused across waits.
#[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "android"))))]
pub struct EpollEvents {
    buf: Vec<sys_epoll::Event>,
}

// SAFETY: rustix's `epoll::Event` is `!Send`/`!Sync` only because its data
// union has a pointer variant. `EpollEvents` only ever reads the data as a
// `u64` and never dereferences it, so the buffer is plain data.
unsafe impl Send for EpollEvents {}
// SAFETY: as for `Send`: shared references only read plain integers.
unsafe impl Sync for EpollEvents {}

impl EpollEvents {
    /// The largest capacity, as for [`Events`](crate::Events): 1,048,576
    /// events per wait (12 MiB). Larger ones are lowered to it.
    pub const MAX_CAPACITY: usize = crate::Events::MAX_CAPACITY;

    /// Room for `capacity` events per wait (zero is raised to one, more than
    /// [`MAX_CAPACITY`](Self::MAX_CAPACITY) lowered to it).
    pub fn with_capacity(capacity: usize) -> Self {
        EpollEvents {
            buf: Vec::with_capacity(capacity.clamp(1, Self::MAX_CAPACITY)),
        }
    }

    /// Events one wait can return.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for at least `capacity` events (may allocate), up to
    /// [`MAX_CAPACITY`](Self::MAX_CAPACITY).
    pub fn reserve(&mut self, capacity: usize) {
        self.buf.clear();
        self.buf.reserve(capacity.min(Self::MAX_CAPACITY));
    }

    /// Number of events from the last wait.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if the last wait returned nothing.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The `(data, events)` pairs of the last wait.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u64, EpollFlags)> + '_ {
        self.buf.iter().map(|e| {
            // Copy the fields out: the kernel's struct is packed.
            let (data, flags) = (e.data, e.flags);
            (data.u64(), EpollFlags::from_bits(flags.bits()))
        })
    }
}

impl std::fmt::Debug for EpollEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
