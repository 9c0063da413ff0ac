//! Deadline arithmetic both engines use: a deadline that cannot overflow,
//! and the period of the idle sweep. (How each engine waits for its
//! deadlines is its own: timer descriptors on the readiness engine, the
//! enter call's timeout on the io_uring engine.)

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

/// How often idle connections are looked for: every half of the idle
/// timeout, but not more than once a millisecond (a timeout of nanoseconds
/// must not turn the loop into a busy one).
pub(crate) fn sweep_period(idle: Duration) -> Duration {
    (idle / 2).max(Duration::from_millis(1))
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
    }

    #[test]
    fn the_sweep_is_at_most_once_a_millisecond() {
        assert_eq!(sweep_period(Duration::from_secs(4)), Duration::from_secs(2));
        assert_eq!(
            sweep_period(Duration::from_nanos(3)),
            Duration::from_millis(1)
        );
    }
}
