//! `contextvars`: copying the current context, and calling a callback with
//! a context entered, as `Context.run(callback, *args)` does.
//!
//! With the full C API these are `PyContext_CopyCurrent` and
//! `PyContext_Enter`/`PyContext_Exit` around the call (no bound method, no
//! argument tuple); the limited API has neither, so the stable-ABI builds
//! call `contextvars.copy_context()` and `context.run(...)`.

use pyo3::prelude::*;
#[cfg(Py_LIMITED_API)]
use pyo3::sync::GILOnceCell;
#[cfg(Py_LIMITED_API)]
use pyo3::types::PyTuple;

use crate::aio::callargs::BoundArgs;

/// `contextvars.copy_context()`.
///
/// # Errors
///
/// `MemoryError`.
#[cfg(not(Py_LIMITED_API))]
pub(crate) fn copy_current(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: the GIL is held (`py`); the function returns a new reference
    // or NULL with an exception set, which `from_owned_ptr_or_err` takes.
    unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyContext_CopyCurrent()) }
}

/// `contextvars.copy_context()`.
///
/// # Errors
///
/// `MemoryError`, or an import error of `contextvars`.
#[cfg(Py_LIMITED_API)]
pub(crate) fn copy_current(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static COPY: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    COPY.import(py, "contextvars", "copy_context")?.call0()
}

/// `context.run(callback, *args)`, the result dropped.
///
/// # Errors
///
/// What the callback raises; `RuntimeError` if `context` is entered
/// already (as `Context.run`); `TypeError` if it is not a `Context`.
#[cfg(not(Py_LIMITED_API))]
pub(crate) fn run_in<'py>(
    context: &Bound<'py, PyAny>,
    callback: &Bound<'py, PyAny>,
    args: &BoundArgs<'py>,
) -> PyResult<()> {
    let py = context.py();
    // SAFETY: the GIL is held; `context` is a live object. Enter checks
    // its type (TypeError otherwise) and that it is not entered already.
    if unsafe { pyo3::ffi::PyContext_Enter(context.as_ptr()) } < 0 {
        return Err(PyErr::fetch(py));
    }
    let result = args.call(callback);
    // SAFETY: entered just above on this thread, exited exactly once.
    let exited = unsafe { pyo3::ffi::PyContext_Exit(context.as_ptr()) };
    if exited < 0 && result.is_ok() {
        return Err(PyErr::fetch(py));
    }
    result
}

/// `context.run(callback, *args)`, the result dropped.
///
/// # Errors
///
/// What the callback raises; `RuntimeError` if `context` is entered
/// already; `AttributeError`/`TypeError` if it is not a `Context`.
#[cfg(Py_LIMITED_API)]
pub(crate) fn run_in<'py>(
    context: &Bound<'py, PyAny>,
    callback: &Bound<'py, PyAny>,
    args: &BoundArgs<'py>,
) -> PyResult<()> {
    let py = context.py();
    let mut items: Vec<Bound<'_, PyAny>> = vec![callback.clone()];
    items.extend(args.to_tuple(py)?.iter());
    context
        .getattr(pyo3::intern!(py, "run"))?
        .call1(PyTuple::new(py, items)?)
        .map(drop)
}
