//! Waiting: the GIL released around the syscall, `EINTR` retried with the
//! time that remains (PEP 475) and Python's signal handlers run between
//! attempts, as CPython's module waits.

use std::io;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ioready::Deadline;
use pyo3::prelude::*;

use crate::ffi::gil::GilReleased;
use crate::select::errors::os_error;

/// Locks a mutex, ignoring poisoning (a panic cannot leave these states
/// half-updated in a way that matters more than refusing all further calls).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `attempt` with the GIL released until it ends otherwise than by
/// `EINTR` (PEP 475). Between attempts the Python signal handlers run and
/// the timeout becomes what remains of `deadline`, rounded up by `round`.
/// `Ok(None)`: the deadline passed while retrying (CPython then returns
/// "nothing ready").
///
/// `attempt` must be `Send`: it holds no Python object, which is what
/// makes running it without the GIL sound.
///
/// # Errors
///
/// The exception a signal handler raised; the attempt's error as CPython's
/// `OSError`.
pub(crate) fn wait_with_signals<T, F>(
    py: Python<'_>,
    first: Option<Duration>,
    deadline: Option<Deadline>,
    round: fn(Duration) -> Duration,
    mut attempt: F,
) -> PyResult<Option<T>>
where
    T: Send,
    F: FnMut(Option<Duration>) -> io::Result<T> + Send,
{
    let mut timeout = first;
    loop {
        let result = {
            // SAFETY: only `attempt` runs until the guard drops and the GIL
            // is back; it is `Send`, so it holds no Python object.
            let _released = unsafe { GilReleased::new(py) };
            attempt(timeout)
        };
        match result {
            Ok(v) => return Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                match after_eintr(py, deadline.as_ref(), round)? {
                    Some(next) => timeout = next.or(timeout),
                    None => return Ok(None),
                }
            }
            Err(e) => return Err(os_error(e)),
        }
    }
}

/// What to do after an attempt ended with `EINTR` (PEP 475): run Python's
/// signal handlers, then `Ok(None)` if the deadline has passed (CPython then
/// returns "nothing ready"), or `Ok(Some(t))`: the next attempt's timeout,
/// what remains rounded up by `round` (`Some(None)`: keep the current one,
/// as for an infinite wait).
///
/// # Errors
///
/// The exception a signal handler raised.
pub(crate) fn after_eintr(
    py: Python<'_>,
    deadline: Option<&Deadline>,
    round: fn(Duration) -> Duration,
) -> PyResult<Option<Option<Duration>>> {
    py.check_signals()?;
    Ok(match deadline.map(Deadline::remaining) {
        Some(Some(left)) if left.is_zero() => None,
        Some(Some(left)) => Some(Some(round(left))),
        _ => Some(None),
    })
}
