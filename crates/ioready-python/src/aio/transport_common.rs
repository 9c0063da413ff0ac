//! What the two stream transports ([`super::stream`] on readiness,
//! [`super::uring`] on io_uring) compute identically, written once: the
//! protocol's callbacks, `write`'s checks and its count of writes after the
//! connection was lost, protocol errors, and the `None`-or-object attributes
//! asyncio's Python reads and sets. Everything here on a hot path is a
//! small `#[inline]` function of plain values, so sharing it costs nothing.

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PySystemExit, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyByteArray, PyMemoryView};

/// asyncio's `constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES`.
const LOG_THRESHOLD_FOR_CONNLOST_WRITES: usize = 5;

/// The callbacks reading delivers to for `protocol`: whether it is a
/// `BufferedProtocol`, then `data_received` (or `get_buffer` and
/// `buffer_updated` for a buffered one).
///
/// # Errors
///
/// Importing `asyncio.BufferedProtocol`, the `isinstance` check, or a
/// missing method of the protocol.
pub(crate) fn protocol_callbacks<'py>(
    protocol: &Bound<'py, PyAny>,
) -> PyResult<(bool, Bound<'py, PyAny>, Option<Py<PyAny>>)> {
    static BUFFERED: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let cls = BUFFERED.import(protocol.py(), "asyncio", "BufferedProtocol")?;
    if protocol.is_instance(cls)? {
        Ok((
            true,
            protocol.getattr("get_buffer")?,
            Some(protocol.getattr("buffer_updated")?.unbind()),
        ))
    } else {
        Ok((false, protocol.getattr("data_received")?, None))
    }
}

/// What a protocol callback's error becomes: `SystemExit` and
/// `KeyboardInterrupt` propagate, anything else is the transport's fatal
/// error with `message`.
///
/// # Errors
///
/// `err` itself for `SystemExit`/`KeyboardInterrupt`; else those of the
/// transport's `_fatal_error`.
pub(crate) fn protocol_error<T>(slf: &Bound<'_, T>, err: PyErr, message: &str) -> PyResult<()> {
    let py = slf.py();
    if err.is_instance_of::<PySystemExit>(py) || err.is_instance_of::<PyKeyboardInterrupt>(py) {
        return Err(err);
    }
    slf.as_any()
        .call_method1("_fatal_error", (err.into_value(py), message))?;
    Ok(())
}

/// `write`'s refusals (asyncio's messages): after `write_eof`, and while
/// `loop.sendfile` waits for the buffer to empty.
///
/// # Errors
///
/// `RuntimeError` in those two cases.
#[inline]
pub(crate) fn check_writable(eof: bool, sendfile_waiting: bool) -> PyResult<()> {
    if eof {
        return Err(PyRuntimeError::new_err(
            "Cannot call write() after write_eof()",
        ));
    }
    if sendfile_waiting {
        return Err(PyRuntimeError::new_err(
            "unable to write; sendfile is in progress",
        ));
    }
    Ok(())
}

/// Counts a write after the connection was lost (asyncio drops it); true
/// when it is to be warned of (from the threshold on, as asyncio).
#[inline]
pub(crate) fn count_lost_write(conn_lost: &mut usize) -> bool {
    let warn = *conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES;
    *conn_lost += 1;
    warn
}

/// asyncio's warning for a write after the connection was lost.
///
/// # Errors
///
/// Those of the Python half's warning function.
pub(crate) fn warn_lost_write(py: Python<'_>) -> PyResult<()> {
    super::glue::WARN_CONNLOST.get(py)?.call0()?;
    Ok(())
}

/// `write`'s refusal of what is not bytes-like (bytes itself is taken
/// before this check).
///
/// # Errors
///
/// `TypeError` (asyncio's message) unless `data` is a `bytearray` or a
/// `memoryview`.
pub(crate) fn check_bytes_like(data: &Bound<'_, PyAny>) -> PyResult<()> {
    if data.is_instance_of::<PyByteArray>() || data.is_instance_of::<PyMemoryView>() {
        return Ok(());
    }
    Err(PyTypeError::new_err(format!(
        "data argument must be a bytes-like object, not {}",
        data.get_type().name()?.repr()?
    )))
}

/// An optional object as the attribute asyncio reads (`None` when unset).
#[inline]
pub(crate) fn opt_to_py(py: Python<'_>, value: Option<&Py<PyAny>>) -> Py<PyAny> {
    value.map_or_else(|| py.None(), |o| o.clone_ref(py))
}

/// The attribute asyncio sets as an optional object (`None` unsets).
#[inline]
pub(crate) fn py_to_opt(py: Python<'_>, value: Py<PyAny>) -> Option<Py<PyAny>> {
    (!value.is_none(py)).then_some(value)
}
