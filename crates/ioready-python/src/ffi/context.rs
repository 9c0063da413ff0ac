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

/// `f()` with `context` entered, as `context.run` would run it: what `f`
/// sets in context variables stays in `context`, and what it reads comes
/// from there. For native code that calls several Python callables which
/// asyncio would call in one context (a transport's protocol callbacks).
///
/// # Errors
///
/// What `f` returns; `RuntimeError` if `context` is entered already;
/// `TypeError` if it is not a `Context`.
#[cfg(not(Py_LIMITED_API))]
pub(crate) fn within<R>(
    context: &Bound<'_, PyAny>,
    f: impl FnOnce() -> PyResult<R>,
) -> PyResult<R> {
    let py = context.py();
    // SAFETY: the GIL is held; `context` is a live object. Enter checks
    // its type (TypeError otherwise) and that it is not entered already.
    if unsafe { pyo3::ffi::PyContext_Enter(context.as_ptr()) } < 0 {
        return Err(PyErr::fetch(py));
    }
    let result = f();
    // SAFETY: entered just above on this thread, exited exactly once.
    let exited = unsafe { pyo3::ffi::PyContext_Exit(context.as_ptr()) };
    if exited < 0 && result.is_ok() {
        return Err(PyErr::fetch(py));
    }
    result
}

#[cfg(Py_LIMITED_API)]
std::thread_local! {
    /// The job `within` hands to `context.run` through `trampoline`.
    static JOB: std::cell::Cell<Option<*mut (dyn FnMut() + 'static)>> =
        const { std::cell::Cell::new(None) };
}

/// What `within` gives `context.run` (the limited API cannot enter a
/// context): runs the job `within` left, once.
#[cfg(Py_LIMITED_API)]
#[pyfunction]
fn trampoline() {
    if let Some(job) = JOB.with(std::cell::Cell::take) {
        // SAFETY: `within` stored this pointer to a closure on its own
        // stack just before calling `context.run`, which calls this
        // function synchronously, before `within` returns; taken once.
        unsafe { (*job)() };
    }
}

/// `f()` with `context` entered (through `context.run` and a trampoline:
/// the limited API has no `PyContext_Enter`).
///
/// # Errors
///
/// What `f` returns; `RuntimeError` if `context` is entered already;
/// `AttributeError`/`TypeError` if it is not a `Context`.
#[cfg(Py_LIMITED_API)]
pub(crate) fn within<R>(
    context: &Bound<'_, PyAny>,
    f: impl FnOnce() -> PyResult<R>,
) -> PyResult<R> {
    static TRAMPOLINE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let py = context.py();
    let trampoline = TRAMPOLINE.get_or_try_init(py, || {
        Ok::<_, PyErr>(wrap_pyfunction!(trampoline, py)?.into_any().unbind())
    })?;
    let mut f = Some(f);
    let mut out: Option<PyResult<R>> = None;
    let mut job = || {
        if let Some(f) = f.take() {
            out = Some(f());
        }
    };
    let job: *mut (dyn FnMut() + '_) = &mut job;
    // SAFETY: only the lifetime is erased; the pointer is used by
    // `trampoline` during the `context.run` call below, while `job` is
    // alive, and cleared after it (if `run` failed before calling it).
    let job = unsafe {
        std::mem::transmute::<*mut (dyn FnMut() + '_), *mut (dyn FnMut() + 'static)>(job)
    };
    let previous = JOB.with(|slot| slot.replace(Some(job)));
    let ran = context
        .getattr(pyo3::intern!(py, "run"))
        .and_then(|run| run.call1((trampoline.bind(py),)));
    JOB.with(|slot| slot.set(previous));
    ran?;
    out.unwrap_or_else(|| {
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "Context.run did not call its callback",
        ))
    })
}
