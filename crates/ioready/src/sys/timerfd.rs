//! Timers on Linux: a `timerfd` on `CLOCK_MONOTONIC`, which every backend
//! can wait on (it is readable while expirations are unread).
//!
//! The kernel keeps the schedule: a periodic timer's expirations are
//! `first + k * period` on the monotonic clock whatever the reader does (no
//! drift), and one `read` returns how many happened since the last one (no
//! burst after a stall). A timer never expires before its time on
//! `CLOCK_MONOTONIC`, the clock of `std::time::Instant`. Setting the time
//! (or disarming) discards unread expirations.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

/// A close-on-exec, non-blocking timerfd.
#[derive(Debug)]
pub(crate) struct Timer {
    fd: OwnedFd,
}

/// A duration as the kernel's `timespec`. Durations past `i64::MAX` seconds
/// are clamped; the kernel itself saturates anything past ~292 years, so a
/// huge timer simply never expires (it is never made *earlier* than asked,
/// as a clamp to a shorter slice would).
fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: d.subsec_nanos() as _,
    }
}

const ZERO: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

impl Timer {
    /// A disarmed timer.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE`, `ENOMEM`.
    pub(crate) fn new() -> io::Result<Timer> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )?;
        Ok(Timer { fd })
    }

    /// Arms the timer: first expiry after `first` (zero means at once), then
    /// every `period` if given (checked non-zero by the caller). Unread
    /// expirations of the previous setting are discarded.
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors (`EINVAL` cannot happen: the caller
    /// checked the period and the values are in range).
    pub(crate) fn set(&self, first: Duration, period: Option<Duration>) -> io::Result<()> {
        // A zero `it_value` would disarm the timer: "at once" is 1 ns.
        let first = first.max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_value: timespec(first),
            it_interval: period.map_or(ZERO, timespec),
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }

    /// Disarms the timer and discards unread expirations.
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors.
    pub(crate) fn cancel(&self) -> io::Result<()> {
        let spec = Itimerspec {
            it_value: ZERO,
            it_interval: ZERO,
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }

    /// Reads the expirations since the last read (0 if none): after this
    /// the descriptor is no longer readable until the next expiry.
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors.
    pub(crate) fn acknowledge(&self) -> io::Result<u64> {
        let mut buf = [0u8; 8];
        loop {
            return match rustix::io::read(&self.fd, &mut buf) {
                Ok(8) => Ok(u64::from_ne_bytes(buf)),
                Ok(_) => Ok(0),
                Err(rustix::io::Errno::AGAIN) => Ok(0),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => Err(e.into()),
            };
        }
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
