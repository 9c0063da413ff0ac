//! The server's deadlines. There are few and each is a single `Option`, so
//! they are kept as fields and scanned before each wait, rather than in a
//! timer wheel or heap: with none set (the common case), a wait costs one
//! look at them. The event loop acts on them (`Loop::run_timers`); this
//! file only knows when the next one is due.

use std::time::{Duration, Instant};

/// `now + d`, or the latest instant this platform can represent on the
/// way there: a deadline too far away to be represented is never reached,
/// instead of a panic ("overflow when adding duration to instant"). Every
/// deadline of the server is computed with it, so every duration a
/// [`Config`](crate::Config) accepts, up to [`Duration::MAX`], is safe.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    if let Some(t) = now.checked_add(d) {
        return t;
    }
    // Only for durations of hundreds of years: halve the step until it
    // fits, then add what still fits (at most ~2 x 64 tries).
    let (mut t, mut step) = (now, d);
    while !step.is_zero() {
        match t.checked_add(step) {
            Some(next) => t = next,
            None => step /= 2,
        }
    }
    t
}

/// The deadlines of the event loop, besides the shutdown's own.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Accepting resumes then (after `EMFILE` and kin).
    pub(crate) accept_paused_until: Option<Instant>,
    /// The next scan for idle connections.
    pub(crate) next_sweep: Option<Instant>,
    /// The earliest end of a lingering close.
    pub(crate) next_linger_check: Option<Instant>,
}

impl Timers {
    /// Whether any deadline is set.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.accept_paused_until.is_some()
            || self.next_sweep.is_some()
            || self.next_linger_check.is_some()
    }

    /// The timeout of the next wait given the periodic `tick` and the
    /// shutdown's `deadline`, and whether it is the tick's.
    pub(crate) fn next_timeout(
        &self,
        tick: Option<Duration>,
        deadline: Option<Instant>,
    ) -> (Option<Duration>, bool) {
        let mut timeout = tick;
        let mut is_tick = timeout.is_some();
        let now = Instant::now();
        for at in [
            self.accept_paused_until,
            self.next_sweep,
            self.next_linger_check,
            deadline,
        ]
        .into_iter()
        .flatten()
        {
            let d = at.saturating_duration_since(now);
            if timeout.map_or(true, |t| d < t) {
                timeout = Some(d);
                is_tick = false;
            }
        }
        (timeout, is_tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_saturates_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(after(now, Duration::ZERO), now);
        assert_eq!(
            after(now, Duration::from_nanos(1)),
            now + Duration::from_nanos(1)
        );
        assert_eq!(
            after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = after(now, Duration::MAX);
        // As far as the platform goes: centuries at least, and no further
        // step of a second fits.
        assert!(far >= now + Duration::from_secs(500 * 365 * 86_400));
        assert!(far.checked_add(Duration::from_secs(1)).is_none());
        assert!(after(far, Duration::MAX) == far);
        let t = Timers {
            accept_paused_until: Some(far),
            ..Timers::default()
        };
        let (timeout, is_tick) = t.next_timeout(Some(Duration::MAX), Some(far));
        assert!(timeout.unwrap() >= Duration::from_secs(500 * 365 * 86_400));
        assert!(!is_tick || timeout == Some(Duration::MAX));
    }
}
