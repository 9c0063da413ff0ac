//! The exceptions this module raises itself, as CPython raises them (type,
//! arguments and message).

use std::io;

use pyo3::exceptions::{PyOSError, PyOverflowError, PyTypeError};
use pyo3::PyErr;

/// `OSError(errno, strerror)`, as `PyErr_SetFromErrno`: Python picks the
/// subclass from the errno (`FileExistsError` for `EEXIST`, ...).
#[cold]
pub(crate) fn errno_error(code: i32) -> PyErr {
    let text = io::Error::from_raw_os_error(code).to_string();
    let suffix = format!(" (os error {code})");
    let msg = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    PyOSError::new_err((code, msg))
}

/// An error of the library as the Python exception CPython raises.
#[cold]
pub(crate) fn os_error(err: io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => errno_error(code),
        None => PyOSError::new_err(err.to_string()),
    }
}

/// CPython's `_PyArg_CheckPositional` error: `"select expected at least 3
/// arguments, got 2"`.
#[cold]
pub(crate) fn arg_count_error(name: &str, nargs: usize, min: usize, max: usize) -> PyErr {
    let (bound, n) = if nargs < min {
        (if min == max { "" } else { "at least " }, min)
    } else {
        (if min == max { "" } else { "at most " }, max)
    };
    let s = if n == 1 { "" } else { "s" };
    PyTypeError::new_err(format!(
        "{name} expected {bound}{n} argument{s}, got {nargs}"
    ))
}

/// `_PyTime`'s overflow of an integer timeout.
#[cold]
pub(crate) fn too_large_timestamp() -> PyErr {
    PyOverflowError::new_err("timestamp too large to convert to C _PyTime_t")
}
