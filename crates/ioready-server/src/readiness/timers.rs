//! The readiness engine's timers, each an [`ioready::Timer`] with its own token, so
//! that a deadline is an event of the wait like a socket's: no deadline is
//! scanned and no clock is read before a wait, and a wait with no timer due
//! blocks. The event loop arms them and acts on their events; this file
//! only makes and arms them.
//!
//! * the tick ([`Config::tick`](crate::Config::tick)): re-armed before
//!   every wait, so it expires only when a whole tick passes with nothing
//!   else reported (the seeds' `select(..., timeout)`); that costs one
//!   `timerfd_settime` per wait, and only when a tick is configured;
//! * the idle sweep: periodic, every half of the idle timeout;
//! * the end of an accept pause, of the earliest lingering close, and of
//!   the shutdown's grace: one-shot.
//!
//! They are made when the loop is made, not when first needed: the accept
//! pause happens precisely when the process is out of descriptors.

use std::io;
use std::time::{Duration, Instant};

use ioready::{Registry, Timer, Token};

#[cfg(test)]
use crate::time::after;

/// The timers of the event loop (see the module docs).
#[derive(Debug)]
pub(crate) struct Timers {
    /// [`Config::tick`](crate::Config::tick), if set.
    pub(crate) tick: Option<(Timer, Duration)>,
    /// The idle sweep, if [`Config::idle_timeout`](crate::Config::idle_timeout)
    /// is set.
    pub(crate) sweep: Option<Timer>,
    /// Accepting resumes when it expires (after `EMFILE` and kin).
    pub(crate) accept: Timer,
    /// The earliest end of a lingering close.
    pub(crate) linger: Timer,
    /// What `linger` is armed for (`None`: disarmed).
    pub(crate) linger_at: Option<Instant>,
    /// The end of the shutdown's grace.
    pub(crate) drain: Timer,
}

/// The tokens of the timers, from `first` on (see [`Timers::new`]).
pub(crate) const COUNT: usize = 5;

impl Timers {
    /// Makes the timers, registered with tokens `first .. first + COUNT`
    /// (tick, sweep, accept, linger, drain); the tick and the sweep only
    /// when configured.
    ///
    /// # Errors
    ///
    /// Those of [`Timer::new`] (out of descriptors).
    pub(crate) fn new(
        registry: &Registry,
        first: usize,
        tick: Option<Duration>,
        sweep: Option<Duration>,
    ) -> io::Result<Timers> {
        let tick = match tick {
            Some(d) => Some((Timer::new(registry, Token(first))?, d)),
            None => None,
        };
        let sweep = match sweep {
            Some(period) => {
                let t = Timer::new(registry, Token(first + 1))?;
                t.set_periodic(period, period)?;
                Some(t)
            }
            None => None,
        };
        Ok(Timers {
            tick,
            sweep,
            accept: Timer::new(registry, Token(first + 2))?,
            linger: Timer::new(registry, Token(first + 3))?,
            linger_at: None,
            drain: Timer::new(registry, Token(first + 4))?,
        })
    }

    /// Arms the tick for one more tick from now (before each wait).
    #[inline]
    pub(crate) fn rearm_tick(&self) {
        if let Some((t, d)) = &self.tick {
            // Cannot fail on a timer we made with a valid duration.
            let _ = t.set_once(*d);
        }
    }

    /// Arms the linger timer for `until` unless it is armed for earlier.
    pub(crate) fn linger_until(&mut self, until: Instant) {
        if self.linger_at.is_some_and(|at| at <= until) {
            return;
        }
        self.linger_at = Some(until);
        let _ = self
            .linger
            .set_once(until.saturating_duration_since(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_arm_without_error() {
        let selector = ioready::Selector::new().unwrap();
        let mut t = Timers::new(
            selector.registry(),
            10,
            Some(Duration::MAX),
            Some(Duration::MAX),
        )
        .unwrap();
        t.rearm_tick();
        t.linger_until(after(Instant::now(), Duration::MAX));
        t.accept.set_once(Duration::MAX).unwrap();
        t.drain.set_once(Duration::MAX).unwrap();
    }
}
