//! The io_uring engine's deadlines. The readiness engine makes each of its
//! timers a timer descriptor (an event of its wait); this engine has a
//! cheaper place for them: the timeout argument of the one `io_uring_enter`
//! each loop makes. There are few and each is a single `Option`, scanned
//! before a wait only when one is set.

use std::time::{Duration, Instant};

/// The deadlines of the engine, besides the shutdown's own.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    /// Accepting resumes then (after `EMFILE` and kin).
    pub(crate) accept_paused_until: Option<Instant>,
    /// The next scan for idle connections.
    pub(crate) next_sweep: Option<Instant>,
    /// The earliest end of a lingering close.
    pub(crate) next_linger_check: Option<Instant>,
}

impl Deadlines {
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
    fn the_earliest_deadline_wins_over_the_tick() {
        let now = Instant::now();
        let d = Deadlines {
            next_sweep: Some(now + Duration::from_secs(5)),
            ..Deadlines::default()
        };
        assert!(!d.next_timeout(None, None).1);
        let (t, is_tick) = d.next_timeout(Some(Duration::from_secs(1)), None);
        assert_eq!((t, is_tick), (Some(Duration::from_secs(1)), true));
        let (t, is_tick) = d.next_timeout(Some(Duration::from_secs(60)), None);
        assert!(t.unwrap() <= Duration::from_secs(5) && !is_tick);
        assert!(!Deadlines::default().any() && d.any());
    }
}
