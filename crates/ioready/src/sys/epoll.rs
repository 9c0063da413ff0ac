//! `epoll(7)`: create an instance, change its interest list, and wait into
//! the spare capacity of an event buffer (`epoll_pwait2` for
//! sub-millisecond timeouts, `epoll_wait` otherwise). Used by the public
//! [`Epoll`](crate::Epoll) and by the Selector's epoll backend, so both
//! make exactly one syscall per wait.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use rustix::event::epoll::{self, EventData, EventFlags};

use crate::timeout;

pub(crate) use rustix::event::epoll::{Event, EventFlags as Flags};

/// `EPOLLET`: edge-triggered.
pub(crate) const ET: u32 = EventFlags::ET.bits();
/// `EPOLLONESHOT`: disarmed after one event, until modified.
pub(crate) const ONESHOT: u32 = EventFlags::ONESHOT.bits();

/// A descriptor that is always readable and writable, for an epoll set to
/// report in the stead of a file it refuses (`EPERM`): an eventfd whose
/// counter is one and is never read.
pub(crate) fn always_ready() -> io::Result<OwnedFd> {
    use rustix::event::{eventfd, EventfdFlags};
    Ok(eventfd(1, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?)
}

/// A new epoll instance (`epoll_create1(EPOLL_CLOEXEC)`).
pub(crate) fn create() -> io::Result<OwnedFd> {
    Ok(epoll::create(epoll::CreateFlags::CLOEXEC)?)
}

/// The operations of `epoll_ctl` that carry an event.
#[derive(Copy, Clone)]
enum Op {
    Add,
    Modify,
}

/// `epoll_ctl` with an event: `fd` is a caller's number (see
/// [`borrow_number`](super::borrow_number)), `flags` the raw `EPOLL*` bits.
#[inline]
fn ctl(epfd: BorrowedFd<'_>, op: Op, fd: RawFd, data: u64, flags: u32) -> io::Result<()> {
    let (fd, data, flags) = (
        super::borrow_number(fd),
        EventData::new_u64(data),
        EventFlags::from_bits_retain(flags),
    );
    match op {
        Op::Add => epoll::add(epfd, fd, data, flags)?,
        Op::Modify => epoll::modify(epfd, fd, data, flags)?,
    }
    Ok(())
}

/// `EPOLL_CTL_ADD`.
pub(crate) fn add(epfd: BorrowedFd<'_>, fd: RawFd, data: u64, flags: u32) -> io::Result<()> {
    ctl(epfd, Op::Add, fd, data, flags)
}

/// `EPOLL_CTL_MOD`.
pub(crate) fn modify(epfd: BorrowedFd<'_>, fd: RawFd, data: u64, flags: u32) -> io::Result<()> {
    ctl(epfd, Op::Modify, fd, data, flags)
}

/// `EPOLL_CTL_DEL`.
pub(crate) fn delete(epfd: BorrowedFd<'_>, fd: RawFd) -> io::Result<()> {
    Ok(epoll::delete(epfd, super::borrow_number(fd))?)
}

/// One wait into the spare capacity of `buf`, appending after what it
/// holds; returns the number of events. `EINTR` is `Interrupted`.
///
/// `remaining`: `None` blocks; a timeout with a sub-millisecond part uses
/// `epoll_pwait2` (Linux 5.11+), anything else (or an older kernel) whole
/// milliseconds, rounded up.
#[inline]
pub(crate) fn wait_into(
    epfd: BorrowedFd<'_>,
    buf: &mut Vec<Event>,
    remaining: Option<Duration>,
) -> io::Result<usize> {
    if buf.len() == buf.capacity() {
        return Ok(0);
    }
    let ts = match remaining {
        None => None,
        Some(d) => {
            if d.subsec_nanos() % 1_000_000 != 0 && pwait2_supported() {
                return pwait2(epfd, buf, d);
            }
            // Whole milliseconds, rounded up, never above what epoll_wait
            // takes: rustix then makes the one epoll_pwait call.
            let ms = timeout::to_millis_ceil(Some(d));
            Some(rustix::time::Timespec {
                tv_sec: i64::from(ms / 1000),
                tv_nsec: i64::from(ms % 1000) * 1_000_000,
            })
        }
    };
    let n = epoll::wait(epfd, rustix::buffer::spare_capacity(buf), ts.as_ref())?;
    Ok(n)
}

const PWAIT2_UNKNOWN: u8 = 0;
const PWAIT2_YES: u8 = 1;
const PWAIT2_NO: u8 = 2;
static PWAIT2: AtomicU8 = AtomicU8::new(PWAIT2_UNKNOWN);

fn pwait2_supported() -> bool {
    PWAIT2.load(Ordering::Relaxed) != PWAIT2_NO
}

/// `epoll_pwait2` with a nanosecond timeout. rustix offers it only behind a
/// feature that would require Linux 5.11 for *every* wait, so it is called
/// here, once known to exist; on `ENOSYS` we fall back to milliseconds
/// (rounded up) for the life of the process.
fn pwait2(epfd: BorrowedFd<'_>, buf: &mut Vec<Event>, d: Duration) -> io::Result<usize> {
    let ts = libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    };
    let spare = buf.spare_capacity_mut();
    // SAFETY: the buffer pointer and length describe `spare`, writable memory
    // for `spare.len()` events with the kernel's layout (rustix's
    // `epoll::Event` is `repr(C)`/packed exactly as `struct epoll_event`);
    // `ts` lives across the call; a null sigmask means "do not change it".
    let r = unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epfd.as_raw_fd(),
            spare.as_mut_ptr(),
            spare.len() as libc::c_int,
            &ts as *const libc::timespec,
            std::ptr::null::<libc::sigset_t>(),
            0usize,
        )
    };
    if r < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) {
            PWAIT2.store(PWAIT2_NO, Ordering::Relaxed);
            return wait_into(epfd, buf, Some(d));
        }
        return Err(err);
    }
    PWAIT2.store(PWAIT2_YES, Ordering::Relaxed);
    let n = r as usize;
    // SAFETY: the kernel initialised the first `n` events of the spare
    // capacity, which follow the `buf.len()` events already there.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
