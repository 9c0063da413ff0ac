//! [`Timer`]: one-shot and periodic timers as events.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use super::Registration;
use crate::error;
use crate::event::Token;
use crate::selector::Registry;
use crate::sys;

/// A timer whose expiry is an event with its token, in the same wait as
/// socket events, on every backend.
///
/// * **One-shot** ([`set_once`](Self::set_once)) or **periodic**
///   ([`set_periodic`](Self::set_periodic)), with nanosecond resolution on
///   the monotonic clock (that of [`std::time::Instant`]).
/// * **Never early**: an expiry is reported no sooner than the time asked
///   for, measured from the call that armed the timer.
/// * **Level-triggered**: once expired, every wait reports the token until
///   [`acknowledge`](Self::acknowledge) reads the number of expirations.
/// * **Periodic without drift or burst**: expirations are due at `first + k *
///   period` whatever the loop does; after a stall, one event is reported
///   and `acknowledge` says how many periods elapsed (not one event per
///   missed period).
/// * **Re-armable and cancellable**: `set_*` replaces the previous setting,
///   [`cancel`](Self::cancel) disarms; both discard unacknowledged
///   expirations, so the token is not reported for the old setting.
///
/// Built on a `timerfd` on Linux and an `EVFILT_TIMER` kqueue elsewhere
/// (see the module docs). This is libuv's `uv_timer_t` (`timeout`, `repeat`)
/// as a readiness source.
///
/// ```
/// use std::time::Duration;
/// use ioready::{Events, Selector, Timer, Token};
///
/// let mut selector = Selector::new()?;
/// let timer = Timer::new(selector.registry(), Token(1))?;
/// timer.set_periodic(Duration::from_millis(5), Duration::from_millis(5))?;
/// let mut events = Events::with_capacity(8);
/// let mut ticks = 0;
/// while ticks < 3 {
///     selector.select(&mut events, None)?;
///     for event in &events {
///         if event.token() == Token(1) {
///             ticks += timer.acknowledge()?; // periods elapsed since the last one
///         }
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Timer {
    // Declared first: deregistered before the descriptor closes.
    /// Held for its `Drop`.
    _registration: Registration,
    inner: sys::Timer,
}

impl Timer {
    /// A disarmed timer registered with `registry` under `token`.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors; the registration's errors;
    /// `Unsupported` on a platform with neither `timerfd` nor kqueue.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Timer> {
        let inner = sys::Timer::new()?;
        let registration = Registration::new(registry, inner.as_fd(), token)?;
        Ok(Timer {
            _registration: registration,
            inner,
        })
    }

    /// Arms the timer to expire once, `after` from now (zero: at once, that
    /// is, by the next wait). Replaces any previous setting.
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors.
    pub fn set_once(&self, after: Duration) -> io::Result<()> {
        self.inner.set(after, None)
    }

    /// Arms the timer to expire `first` from now, then every `period`.
    /// Replaces any previous setting.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero `period`; otherwise only unexpected kernel
    /// errors.
    pub fn set_periodic(&self, first: Duration, period: Duration) -> io::Result<()> {
        if period.is_zero() {
            return Err(error::invalid_input("period: must be positive"));
        }
        self.inner.set(first, Some(period))
    }

    /// Disarms the timer and forgets expirations not yet acknowledged.
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors.
    pub fn cancel(&self) -> io::Result<()> {
        self.inner.cancel()
    }

    /// How many times the timer expired since the last call (0 if it did
    /// not: a wait that ended for another token). Afterwards the token is
    /// not reported again until the next expiry.
    ///
    /// # Errors
    ///
    /// Only unexpected kernel errors.
    pub fn acknowledge(&self) -> io::Result<u64> {
        self.inner.acknowledge()
    }
}
