//! The server's deadlines. There are few and each is a single `Option`, so
//! they are kept as fields and scanned before each wait, rather than in a
//! timer wheel or heap: with none set (the common case), a wait costs one
//! look at them. The event loop acts on them (`Loop::run_timers`); this
//! file only knows when the next one is due.

use std::time::{Duration, Instant};

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
