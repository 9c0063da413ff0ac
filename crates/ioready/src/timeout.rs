//! Timeouts that mean what they say.
//!
//! Every wait in this crate takes `Option<Duration>`: `None` blocks until an
//! event, `Some(Duration::ZERO)` polls and returns at once, anything else waits
//! at most that long and **never returns before it has passed** (unless an
//! event arrives). Three rules make that true:
//!
//! * The time is rounded *up* to what the syscall can express (milliseconds
//!   for `epoll_wait` without `epoll_pwait2`), so a 100 µs wait is never turned
//!   into a zero-wait busy loop.
//! * A huge timeout (days, `Duration::MAX`) is clamped per syscall and the wait
//!   is resumed until the deadline, so nothing wraps.
//! * `EINTR` is retried with the time that *remains* until a deadline fixed on
//!   the monotonic clock when the call began, as PEP 475 does for Python.
//!
//! # Compared with mio and polling
//!
//! The first two rules are no longer what sets this crate apart: mio, whose
//! bugs they once answered, has fixed both (sub-millisecond timeouts that
//! became zero, mio#1614, fixed by mio#1615 and mio#1642; a timeout past
//! ~24.8 days that wrapped to a negative, infinite one on epoll, fixed by
//! mio#1948; `Duration::MAX` overflowing, mio#1657). The difference now is
//! precision at one system call per wait: mio's epoll backend waits in whole
//! milliseconds (it supports kernels older than `epoll_pwait2`, mio#1541),
//! so a 100 µs timeout waits at least 1 ms; polling reaches nanoseconds with
//! a timerfd it re-arms around each timed wait (`timerfd_settime` and
//! `epoll_ctl`, polling#224); here `epoll_pwait2` (falling back to rounded-up
//! milliseconds on kernels without it), `ppoll` and `pselect6` take the
//! nanoseconds in the wait itself. And `EINTR`: mio returns it to the caller;
//! here it is retried as above, or returned by the `*_once` variants.

use std::io;
use std::time::{Duration, Instant};

use rustix::time::Timespec;

/// The longest single kernel wait this crate asks for. Longer timeouts are
/// resumed in slices of this size until the real deadline. (One year: far
/// below every kernel's limit, far above any slice cost that matters.)
const MAX_SLICE: Duration = Duration::from_secs(365 * 24 * 3600);

/// The point in time at which a wait must end, fixed when the wait begins.
///
/// Exposed so that callers who retry `EINTR` themselves (for example to run
/// Python signal handlers between attempts, see the `*_once` methods) keep
/// the PEP 475 semantics: each attempt waits only for what remains.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// `None`: wait forever.
    at: Option<Instant>,
    /// True for a zero timeout: poll once, never block.
    zero: bool,
}

impl Deadline {
    /// A deadline `timeout` from now; `None` never expires.
    ///
    /// A timeout so large that the monotonic clock cannot represent its end
    /// is treated as `None` (it would outlast the process anyway).
    pub fn after(timeout: Option<Duration>) -> Self {
        match timeout {
            None => Deadline {
                at: None,
                zero: false,
            },
            Some(d) if d.is_zero() => Deadline {
                at: None,
                zero: true,
            },
            Some(d) => Deadline {
                at: Instant::now().checked_add(d),
                zero: false,
            },
        }
    }

    /// The time left: `None` for an infinite wait, `Some(ZERO)` once expired.
    pub fn remaining(&self) -> Option<Duration> {
        if self.zero {
            return Some(Duration::ZERO);
        }
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// True once the deadline has passed (never for an infinite wait).
    pub fn expired(&self) -> bool {
        self.remaining() == Some(Duration::ZERO)
    }

    /// True if the wait must go on after the kernel returned with nothing:
    /// the kernel's timer may fire a hair early by our clock, or the slice
    /// was clamped. Zero-timeout waits never go on.
    pub(crate) fn should_resume(&self) -> bool {
        match self.remaining() {
            None => true,
            Some(left) => !left.is_zero(),
        }
    }
}

/// Converts a remaining time to the `Timespec` a syscall takes, clamped to
/// [`MAX_SLICE`]. `None` stays `None` (block).
#[inline]
pub(crate) fn to_timespec(remaining: Option<Duration>) -> Option<Timespec> {
    remaining.map(|d| {
        let d = d.min(MAX_SLICE);
        Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: d.subsec_nanos() as _,
        }
    })
}

/// Milliseconds for `epoll_wait`-style calls: `-1` for none, rounded *up*,
/// clamped to `i32::MAX`.
#[cfg_attr(not(ioready_epoll), allow(dead_code))]
pub(crate) fn to_millis_ceil(remaining: Option<Duration>) -> i32 {
    match remaining {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}

/// Runs `attempt` until it produces events or the time is up, retrying
/// `EINTR` with the remaining time (PEP 475). `attempt` gets the time that
/// remains and returns how many events it produced.
///
/// The first attempt gets `timeout` itself and the clock is read only when
/// there is a finite, non-zero timeout: a blocking wait that returns events
/// costs no clock read and no deadline arithmetic (the hot path).
#[inline]
pub(crate) fn wait<F>(timeout: Option<Duration>, mut attempt: F) -> io::Result<usize>
where
    F: FnMut(Option<Duration>) -> io::Result<usize>,
{
    let zero = timeout == Some(Duration::ZERO);
    let start = match timeout {
        Some(d) if !d.is_zero() => Some(Instant::now()),
        _ => None,
    };
    match attempt(timeout) {
        Ok(n) if n > 0 || zero => return Ok(n),
        Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
        Err(_) if zero => return Ok(0),
        _ => {}
    }
    // Interrupted, or back early with nothing: resume until the deadline
    // fixed at the start.
    let deadline = Deadline {
        at: match (start, timeout) {
            (Some(s), Some(d)) => s.checked_add(d),
            _ => None,
        },
        zero,
    };
    retry(&deadline, attempt)
}

/// The resuming loop of [`wait`], against a fixed deadline.
pub(crate) fn retry<F>(deadline: &Deadline, mut attempt: F) -> io::Result<usize>
where
    F: FnMut(Option<Duration>) -> io::Result<usize>,
{
    loop {
        match attempt(deadline.remaining()) {
            Ok(0) if deadline.should_resume() => continue,
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if deadline.expired() {
                    return Ok(0);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_up_and_clamp() {
        assert_eq!(to_millis_ceil(None), -1);
        assert_eq!(to_millis_ceil(Some(Duration::ZERO)), 0);
        assert_eq!(to_millis_ceil(Some(Duration::from_micros(100))), 1);
        assert_eq!(to_millis_ceil(Some(Duration::from_micros(1_001))), 2);
        assert_eq!(to_millis_ceil(Some(Duration::from_millis(7))), 7);
        assert_eq!(to_millis_ceil(Some(Duration::MAX)), i32::MAX);
    }

    #[test]
    fn huge_timeouts_do_not_wrap() {
        let d = Deadline::after(Some(Duration::MAX));
        assert!(!d.expired());
        let ts = to_timespec(Some(Duration::MAX)).unwrap();
        assert!(ts.tv_sec > 0);
        assert_eq!(ts.tv_sec as u64, MAX_SLICE.as_secs());
    }

    #[test]
    fn zero_is_expired_and_none_is_not() {
        assert!(Deadline::after(Some(Duration::ZERO)).expired());
        assert!(!Deadline::after(None).expired());
        assert_eq!(Deadline::after(None).remaining(), None);
    }
}
