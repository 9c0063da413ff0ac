//! `poll(2)`: the `pollfd` entry for a descriptor number, one wait on an
//! array of them, and the translation of this platform's `POLL*` values to
//! the event bits. Used by the public [`Poll`](crate::Poll) and by the
//! Selector's poll backend, so both get the same fast path.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

pub(crate) use rustix::event::{PollFd, PollFlags};

use super::event::bits;
use crate::timeout;

/// The `pollfd` entry for a registered descriptor number.
#[inline]
pub(crate) fn pollfd(fd: RawFd, events: PollFlags) -> PollFd<'static> {
    // poll(2) only reads the number and answers POLLNVAL for one that is
    // not open (see `borrow_number`).
    PollFd::from_borrowed_fd(super::borrow_number(fd), events)
}

/// One wait on `fds`, whose `revents` it fills; returns how many entries
/// have events. `EINTR` is `Interrupted`.
///
/// No timeout, or a whole number of milliseconds (the Python module's
/// always are), makes a `poll(2)` call with an `int` timeout, as C callers
/// and CPython do; anything finer goes through `ppoll` with nanoseconds.
#[inline]
pub(crate) fn poll_once(
    fds: &mut [PollFd<'static>],
    remaining: Option<Duration>,
) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    match remaining {
        None => return poll_millis(fds, -1),
        Some(d) => {
            if let Some(ms) = whole_millis(d) {
                return poll_millis(fds, ms);
            }
        }
    }
    let ts = timeout::to_timespec(remaining);
    Ok(rustix::event::poll(fds, ts.as_ref())?)
}

/// A timeout that is a whole number of milliseconds within `poll(2)`'s
/// `int` (zero included), or `None`.
#[cfg(target_os = "linux")]
#[inline]
fn whole_millis(d: Duration) -> Option<i32> {
    if d.subsec_nanos() % 1_000_000 != 0 {
        return None;
    }
    i32::try_from(d.as_millis()).ok()
}

// rustix's `PollFd` is `#[repr(C)]` over the kernel's `struct pollfd`
// (it passes it to the kernel itself); `poll_millis` relies on that.
#[cfg(target_os = "linux")]
const _: () = {
    assert!(std::mem::size_of::<PollFd<'static>>() == std::mem::size_of::<libc::pollfd>());
    assert!(std::mem::align_of::<PollFd<'static>>() == std::mem::align_of::<libc::pollfd>());
};

/// `poll(2)` with a millisecond timeout (-1: none). rustix always calls
/// `ppoll` with a `timespec`, which the kernel copies in and, with the time
/// left, back out (and reads the clock once more for): about 40 ns more per
/// call for a zero timeout, measured. Same results and errors (`EINTR` is
/// `Interrupted`).
#[cfg(target_os = "linux")]
#[inline]
fn poll_millis(fds: &mut [PollFd<'static>], ms: i32) -> io::Result<usize> {
    // SAFETY: `PollFd` has `struct pollfd`'s layout (asserted above); the
    // pointer and length describe `fds`, whose `revents` the kernel writes.
    let n = unsafe {
        libc::poll(
            fds.as_mut_ptr().cast::<libc::pollfd>(),
            fds.len() as libc::nfds_t,
            ms,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `POLL*` bits of this platform to the Linux numbering used in events
/// (the identity on Linux, where the values are the same).
pub(crate) fn to_event_bits(revents: PollFlags) -> u32 {
    const MAP: &[(PollFlags, u32)] = &[
        (PollFlags::IN, bits::IN),
        (PollFlags::PRI, bits::PRI),
        (PollFlags::OUT, bits::OUT),
        (PollFlags::ERR, bits::ERR),
        (PollFlags::HUP, bits::HUP),
        (PollFlags::NVAL, bits::NVAL | bits::ERR),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        (PollFlags::RDHUP, bits::RDHUP),
    ];
    MAP.iter()
        .filter(|(p, _)| revents.intersects(*p))
        .fold(0, |acc, (_, b)| acc | b)
}

/// Event bits (an interest) to this platform's `POLL*` request bits.
pub(crate) fn to_poll_flags(event_bits: u32) -> PollFlags {
    const MAP: &[(u32, PollFlags)] = &[
        (bits::IN, PollFlags::IN),
        (bits::OUT, PollFlags::OUT),
        (bits::PRI, PollFlags::PRI),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        (bits::RDHUP, PollFlags::RDHUP),
    ];
    MAP.iter()
        .filter(|(b, _)| event_bits & b != 0)
        .fold(PollFlags::empty(), |acc, (_, p)| acc | *p)
}
