//! The loop's clock: `CLOCK_MONOTONIC` in seconds, as `time.monotonic()`
//! (the clock asyncio's loop uses), with its nanosecond resolution.

/// Seconds on `CLOCK_MONOTONIC`, the value `time.monotonic()` would give.
///
/// Computed as CPython does (an integer of nanoseconds, divided by 1e9), so
/// the two agree to the last bit for the same instant.
pub(crate) fn monotonic() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on
    // every Linux (the call cannot fail with these arguments).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // time_t and c_long are 32 bits on some targets.
    #[allow(clippy::unnecessary_cast)]
    let ns = ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64;
    ns as f64 / 1e9
}

/// The clock's resolution in seconds (`time.get_clock_info('monotonic')
/// .resolution`), added to "now" when deciding which timers are due, as
/// asyncio does.
pub(crate) const RESOLUTION: f64 = 1e-9;

/// The longest single wait (asyncio's `MAXIMUM_SELECT_TIMEOUT`).
pub(crate) const MAXIMUM_SELECT_TIMEOUT: f64 = 24.0 * 3600.0;
