//! Timeouts as CPython converts and rounds them (its `_PyTime` rules), so
//! the same argument waits the same time and fails with the same error.

use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyFloat;

use crate::ffi::convert;
use crate::select::errors::too_large_timestamp;

/// Nanoseconds per second: the unit of `select()`'s and `epoll.poll()`'s
/// timeouts.
pub(crate) const NS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds per millisecond: the unit of `poll.poll()`'s timeout.
pub(crate) const NS_PER_MS: i64 = 1_000_000;

/// CPython's `_PyTime_FromSecondsObject`/`_PyTime_FromMillisecondsObject`
/// with `_PyTime_ROUND_TIMEOUT`: a timeout object in `unit` (nanoseconds per
/// unit) as signed nanoseconds.
///
/// # Errors
///
/// `ValueError` for NaN; `OverflowError` out of range (CPython's two
/// messages, for floats and ints); `TypeError` with `type_msg` for anything
/// that is not a number.
pub(crate) fn timeout_ns(
    obj: &Bound<'_, PyAny>,
    unit: i64,
    type_msg: &'static str,
) -> PyResult<i64> {
    if let Ok(f) = obj.downcast::<PyFloat>() {
        let d = f.value();
        if d.is_nan() {
            return Err(PyValueError::new_err("Invalid value NaN (not a number)"));
        }
        let d = d * unit as f64;
        // ROUND_UP: away from zero, so a tiny timeout never becomes 0.
        let d = if d >= 0.0 { d.ceil() } else { d.floor() };
        // The range of an i64, exactly as doubles express it: [-2^63, 2^63).
        let limit = -(i64::MIN as f64);
        if !(-limit..limit).contains(&d) {
            return Err(PyOverflowError::new_err(
                "timestamp out of range for platform time_t",
            ));
        }
        return Ok(d as i64);
    }
    // `PyLong_AsLongLong` accepts any object (it calls `__index__`).
    let v = match convert::as_long_long(obj) {
        Ok(v) => v,
        Err(err) => {
            let py = obj.py();
            if err.is_instance_of::<PyOverflowError>(py) {
                return Err(too_large_timestamp());
            }
            if err.is_instance_of::<PyTypeError>(py) {
                return Err(PyTypeError::new_err(type_msg));
            }
            return Err(err);
        }
    };
    v.checked_mul(unit).ok_or_else(too_large_timestamp)
}

/// `t / k` rounded up (towards +infinity), as `_PyTime_ROUND_CEILING`.
pub(crate) fn div_ceiling(t: i64, k: i64) -> i64 {
    let q = t / k;
    if t % k > 0 {
        q + 1
    } else {
        q
    }
}

/// `t / k` rounded away from zero, as `_PyTime_ROUND_UP` (the timeout mode).
pub(crate) fn div_up(t: i64, k: i64) -> i64 {
    let q = t / k;
    match t % k {
        0 => q,
        r if r > 0 => q + 1,
        _ => q - 1,
    }
}

/// A remaining time rounded up to whole milliseconds (poll and epoll take
/// milliseconds; CPython recomputes with `_PyTime_ROUND_CEILING`).
pub(crate) fn ceil_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A remaining time rounded up to whole microseconds (select's `timeval`).
pub(crate) fn ceil_us(d: Duration) -> Duration {
    let us = d.as_nanos().div_ceil(1_000);
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}

/// A millisecond timeout for `poll`/`epoll_wait`; negative means block.
///
/// # Errors
///
/// CPython's `OverflowError` out of `int` range.
pub(crate) fn ms_timeout(ms: i64) -> PyResult<Option<Duration>> {
    if ms < i64::from(i32::MIN) || ms > i64::from(i32::MAX) {
        return Err(PyOverflowError::new_err("timeout is too large"));
    }
    Ok(u64::try_from(ms).ok().map(Duration::from_millis))
}

/// A timeout of `poll.poll()` (`unit` [`NS_PER_MS`]) or `epoll.poll()`
/// ([`NS_PER_SEC`]): the first wait in whole milliseconds, rounded as
/// CPython rounds it for that call (`round`), and the deadline of the whole
/// call (`None`: block).
///
/// # Errors
///
/// As [`timeout_ns`] and [`ms_timeout`].
pub(crate) fn ms_wait(
    timeout: &Bound<'_, PyAny>,
    unit: i64,
    round: fn(i64, i64) -> i64,
) -> PyResult<(Option<Duration>, Option<ioready::Deadline>)> {
    let ns = timeout_ns(timeout, unit, "timeout must be an integer or None")?;
    let first = ms_timeout(round(ns, NS_PER_MS))?;
    let deadline = u64::try_from(ns)
        .ok()
        .map(|ns| ioready::Deadline::after(Some(Duration::from_nanos(ns))));
    Ok((first, deadline))
}
