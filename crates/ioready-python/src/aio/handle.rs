//! `Handle` and `TimerHandle`: what `call_soon`, `call_later`, `call_at`
//! and `add_reader` return, with asyncio's behaviour (`cancel`,
//! `cancelled`, `when`, `get_context`, `_run`, the repr) and attributes
//! (`_callback`, `_args`, `_cancelled`, `_loop`, `_context`,
//! `_source_traceback`, `_repr`, `_when`, `_scheduled`).
//!
//! A handle keeps the callback's arguments as the tuple it was called with
//! (none for a call without arguments: `Task` and `Future` schedule their
//! steps so) and runs the callback with its context entered, without a
//! bound `Context.run` method or another tuple (see `ffi::context`).

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;

use super::callargs::CallArgs;
use super::core::LoopCore;
use super::gil_cell::GilCell;
use super::glue;
use crate::ffi::context;

/// What a handle holds; cleared by `cancel` (callback and arguments) and by
/// the garbage collector. Released with plain decrefs (see `Drop`).
#[derive(Default)]
pub(crate) struct HandleState {
    callback: Option<Py<PyAny>>,
    args: CallArgs,
    context: Option<Py<PyAny>>,
    loop_: Option<Py<PyAny>>,
    cancelled: bool,
    repr: Option<Py<PyAny>>,
    source_traceback: Option<Py<PyAny>>,
    /// TimerHandle only: in the loop's heap.
    scheduled: bool,
}

impl Drop for HandleState {
    /// `Py`'s own drop asks a thread-local whether the GIL is held before
    /// each decref; a handle's state is let go once per callback, so the
    /// five references go with plain decrefs instead.
    fn drop(&mut self) {
        // SAFETY: a `HandleState` lives in a `Handle` (a Python object,
        // deallocated by CPython with the GIL held) or, while one is made or
        // cleared, in code that holds the GIL (`Handle::state`, `__clear__`
        // under `with_gil`, `cancel_handle`); it is never sent to a thread
        // without the GIL.
        let py = unsafe { Python::assume_gil_acquired() };
        let objects = [
            self.callback.take(),
            self.context.take(),
            self.loop_.take(),
            self.repr.take(),
            self.source_traceback.take(),
        ];
        for obj in objects.into_iter().flatten() {
            obj.drop_ref(py);
        }
        std::mem::take(&mut self.args).drop_ref(py);
    }
}

impl HandleState {
    /// Every object held, for the garbage collector.
    fn referents(&self) -> impl Iterator<Item = &Py<PyAny>> {
        [
            &self.callback,
            &self.context,
            &self.loop_,
            &self.repr,
            &self.source_traceback,
        ]
        .into_iter()
        .flatten()
        .chain(self.args.objects())
    }
}

#[cfg(not(Py_LIMITED_API))]
impl crate::ffi::gc::Referents for Handle {
    // Written out rather than through `referents()`: the collector visits
    // each young handle twice per collection, and the iterator chain
    // (an array, `flatten`, `chain`) did not fold away.
    fn each_referent(
        &self,
        mut visit: impl FnMut(&Py<PyAny>) -> std::ffi::c_int,
    ) -> std::ffi::c_int {
        let Some(state) = self.state.for_gc() else {
            return 0;
        };
        let (a, b) = state.args.pair();
        macro_rules! visit_each {
            ($($obj:expr),*) => {$(
                if let Some(obj) = $obj {
                    let r = visit(obj);
                    if r != 0 {
                        return r;
                    }
                }
            )*};
        }
        visit_each!(
            state.callback.as_ref(),
            state.context.as_ref(),
            state.loop_.as_ref(),
            a,
            b,
            state.repr.as_ref(),
            state.source_traceback.as_ref()
        );
        0
    }
}

/// asyncio's `Handle`: a callback, its arguments and its context.
#[pyclass(module = "ioready", name = "Handle", subclass, weakref, frozen)]
pub(crate) struct Handle {
    state: GilCell<HandleState>,
}

/// asyncio's `TimerHandle`: a `Handle` due at `when` on the loop's clock.
#[pyclass(module = "ioready", name = "TimerHandle", extends = Handle, frozen)]
pub(crate) struct TimerHandle {
    /// The due time on the loop's clock, for ordering.
    when: f64,
    /// `when` as the caller gave it (asyncio keeps it: an `int` stays one).
    when_obj: Py<PyAny>,
}

impl Handle {
    /// A handle for `callback(*args)` in `context` (a copy of the current
    /// one if `None`) on `loop_`; with `debug`, the caller's stack is kept
    /// as `_source_traceback`.
    ///
    /// # Errors
    ///
    /// `MemoryError`; in debug mode, errors of taking the stack.
    pub(crate) fn state(
        py: Python<'_>,
        loop_: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: CallArgs,
        context: Option<&Bound<'_, PyAny>>,
        debug: bool,
    ) -> PyResult<Handle> {
        let context = match context {
            Some(c) if !c.is_none() => c.clone().unbind(),
            _ => context::copy_current(py)?.unbind(),
        };
        let source_traceback = if debug {
            Some(glue::SOURCE_TRACEBACK.get(py)?.call0()?.unbind())
        } else {
            None
        };
        Ok(Handle {
            state: GilCell::new(HandleState {
                callback: Some(callback.clone().unbind()),
                args,
                context: Some(context),
                loop_: Some(loop_.clone().unbind()),
                cancelled: false,
                repr: None,
                source_traceback,
                scheduled: false,
            }),
        })
    }

    /// Whether `cancel()` was called.
    ///
    /// # Errors
    ///
    /// `RuntimeError` on re-entrance (see `gil_cell`).
    pub(crate) fn is_cancelled(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state.get(py)?.cancelled)
    }

    /// Sets `_scheduled` (timers: in the heap or not).
    pub(crate) fn set_scheduled(&self, py: Python<'_>, scheduled: bool) -> PyResult<()> {
        self.state.get_mut(py)?.scheduled = scheduled;
        Ok(())
    }

    /// `Handle.cancel()` without the timer's notice to the loop.
    pub(crate) fn cancel_handle(slf: &Bound<'_, Handle>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let debug = {
            let state = this.state.get(py)?;
            if state.cancelled {
                return Ok(());
            }
            state.loop_.as_ref().is_some_and(|l| loop_debug(l.bind(py)))
        };
        // In debug mode the repr is kept, callback and arguments included.
        let repr = if debug {
            Some(slf.repr()?.into_any().unbind())
        } else {
            None
        };
        let (callback, args) = {
            let mut state = this.state.get_mut(py)?;
            state.cancelled = true;
            if repr.is_some() {
                state.repr = repr;
            }
            (state.callback.take(), std::mem::take(&mut state.args))
        };
        // Released with no borrow alive (a finalizer may run Python code),
        // with plain decrefs (see `Drop for HandleState`).
        if let Some(callback) = callback {
            callback.drop_ref(py);
        }
        args.drop_ref(py);
        Ok(())
    }

    /// Runs the callback as asyncio's `Handle._run`: an exception goes to
    /// the loop's exception handler, except `SystemExit` and
    /// `KeyboardInterrupt`, which propagate.
    ///
    /// # Errors
    ///
    /// `SystemExit`, `KeyboardInterrupt`, and what the exception handler
    /// raises.
    pub(crate) fn run(slf: &Bound<'_, Handle>) -> PyResult<()> {
        let py = slf.py();
        let (callback, args, ctx) = {
            let state = slf.get().state.get(py)?;
            match (&state.callback, &state.context) {
                (Some(cb), Some(ctx)) => (
                    cb.bind(py).clone(),
                    state.args.bind_clone(py),
                    ctx.bind(py).clone(),
                ),
                // Cancelled or cleared: nothing to run.
                _ => return Ok(()),
            }
        };
        match context::run_in(&ctx, &callback, &args) {
            Ok(()) => Ok(()),
            Err(err) => {
                if err.is_instance_of::<PySystemExit>(py)
                    || err.is_instance_of::<PyKeyboardInterrupt>(py)
                {
                    return Err(err);
                }
                let exc = err.into_value(py);
                glue::REPORT_ERROR.get(py)?.call1((slf, exc))?;
                Ok(())
            }
        }
    }

    fn repr_with(slf: &Bound<'_, Handle>, when: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        Ok(glue::HANDLE_REPR.get(py)?.call1((slf, when))?.unbind())
    }
}

/// The loop's debug flag (`get_debug()`), natively for ioready's loop.
fn loop_debug(loop_: &Bound<'_, PyAny>) -> bool {
    match loop_.downcast::<LoopCore>() {
        Ok(core) => core.get().debug(),
        Err(_) => loop_
            .call_method0("get_debug")
            .and_then(|d| d.is_truthy())
            .unwrap_or(false),
    }
}

#[pymethods]
impl Handle {
    /// Cancels the callback: it will not run (a no-op if it ran already).
    fn cancel(slf: &Bound<'_, Self>) -> PyResult<()> {
        Handle::cancel_handle(slf)
    }

    /// Whether the handle was cancelled.
    fn cancelled(&self, py: Python<'_>) -> PyResult<bool> {
        self.is_cancelled(py)
    }

    /// The `contextvars.Context` the callback runs in.
    fn get_context(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state.get(py)?;
        Ok(state
            .context
            .as_ref()
            .map_or_else(|| py.None(), |c| c.clone_ref(py)))
    }

    /// Runs the callback now (what the loop does), as asyncio's.
    fn _run(slf: &Bound<'_, Self>) -> PyResult<()> {
        Handle::run(slf)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Handle::repr_with(slf, None)
    }

    #[getter]
    fn _callback(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state.get(py)?;
        Ok(state
            .callback
            .as_ref()
            .map_or_else(|| py.None(), |c| c.clone_ref(py)))
    }

    #[getter]
    fn _args(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state.get(py)?;
        if state.cancelled {
            return Ok(py.None());
        }
        Ok(state.args.to_tuple(py)?.into_any().unbind())
    }

    #[getter]
    fn _cancelled(&self, py: Python<'_>) -> PyResult<bool> {
        self.is_cancelled(py)
    }

    #[getter]
    fn _loop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state.get(py)?;
        Ok(state
            .loop_
            .as_ref()
            .map_or_else(|| py.None(), |l| l.clone_ref(py)))
    }

    #[getter]
    fn _context(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get_context(py)
    }

    #[getter]
    fn _source_traceback(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state.get(py)?;
        Ok(state
            .source_traceback
            .as_ref()
            .map_or_else(|| py.None(), |t| t.clone_ref(py)))
    }

    #[setter(_source_traceback)]
    fn set_source_traceback_attr(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        let old = {
            let mut state = self.state.get_mut(py)?;
            let new = (!value.is_none(py)).then_some(value);
            std::mem::replace(&mut state.source_traceback, new)
        };
        drop(old);
        Ok(())
    }

    #[getter]
    fn _repr(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state.get(py)?;
        Ok(state
            .repr
            .as_ref()
            .map_or_else(|| py.None(), |r| r.clone_ref(py)))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        let Some(state) = self.state.for_gc() else {
            return Ok(());
        };
        for obj in state.referents() {
            visit.call(obj)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::with_gil(|py| {
            let taken = match self.state.get_mut(py) {
                Ok(mut state) => std::mem::take(&mut *state),
                Err(_) => return,
            };
            drop(taken);
        });
    }
}

impl TimerHandle {
    /// A timer due at `when`, as a Python object.
    ///
    /// # Errors
    ///
    /// As [`Handle::state`], and `MemoryError`.
    pub(crate) fn create<'py>(
        py: Python<'py>,
        when: f64,
        when_obj: Option<&Bound<'py, PyAny>>,
        handle: Handle,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        let when_obj = match when_obj {
            Some(obj) => obj.clone().unbind(),
            None => pyo3::types::PyFloat::new(py, when).into_any().unbind(),
        };
        Bound::new(
            py,
            PyClassInitializer::from(handle).add_subclass(TimerHandle { when, when_obj }),
        )
    }
}

#[pymethods]
impl TimerHandle {
    /// When the callback is due, on the loop's clock (`loop.time()`), as
    /// given to `call_at`.
    fn when(&self, py: Python<'_>) -> Py<PyAny> {
        self.when_obj.clone_ref(py)
    }

    #[getter]
    fn _when(&self, py: Python<'_>) -> Py<PyAny> {
        self.when_obj.clone_ref(py)
    }

    #[getter]
    fn _scheduled(slf: &Bound<'_, Self>) -> PyResult<bool> {
        Ok(slf.as_super().get().state.get(slf.py())?.scheduled)
    }

    #[setter(_scheduled)]
    fn set_scheduled_attr(slf: &Bound<'_, Self>, value: bool) -> PyResult<()> {
        slf.as_super().get().set_scheduled(slf.py(), value)
    }

    /// Cancels the timer; the loop forgets it soon (asyncio's
    /// `_timer_handle_cancelled` accounting).
    fn cancel(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let base = slf.as_super();
        let (cancelled, scheduled, loop_) = {
            let state = base.get().state.get(py)?;
            (
                state.cancelled,
                state.scheduled,
                state.loop_.as_ref().map(|l| l.clone_ref(py)),
            )
        };
        let mut purge = None;
        if !cancelled {
            if let Some(loop_) = loop_ {
                let loop_ = loop_.into_bound(py);
                match loop_.downcast::<LoopCore>() {
                    Ok(core) if scheduled => {
                        core.get().timer_cancelled(py)?;
                        purge = Some(core.clone());
                    }
                    Ok(_) => {}
                    Err(_) => {
                        loop_.call_method1("_timer_handle_cancelled", (slf,))?;
                    }
                }
            }
        }
        Handle::cancel_handle(base)?;
        // The heap is rebuilt as soon as cancelled timers are most of it,
        // not only at the next iteration: code that schedules and cancels
        // in one callback keeps the heap (and the collector's work) small.
        if let Some(core) = purge {
            core.get().purge_if_mostly_cancelled(py)?;
        }
        Ok(())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let when = slf.get().when_obj.clone_ref(slf.py());
        Handle::repr_with(slf.as_super(), Some(when))
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.when_obj.bind(py).hash()
    }

    fn __richcmp__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Ok(other) = other.downcast::<TimerHandle>() else {
            return Ok(py.NotImplemented());
        };
        let (a, b) = (slf.get().when, other.get().when);
        let result = match op {
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
            CompareOp::Eq | CompareOp::Ne => {
                let equal = a == b && same_call(slf.as_super(), other.as_super())?;
                equal == matches!(op, CompareOp::Eq)
            }
        };
        Ok(result.into_pyobject(py)?.to_owned().into_any().unbind())
    }
}

/// asyncio's `TimerHandle.__eq__` beyond `when`: same callback, arguments
/// and cancellation.
fn same_call(a: &Bound<'_, Handle>, b: &Bound<'_, Handle>) -> PyResult<bool> {
    let py = a.py();
    let (ca, aa, xa) = (
        a.get()._callback(py)?,
        a.get()._args(py)?,
        a.get().is_cancelled(py)?,
    );
    let (cb, ab, xb) = (
        b.get()._callback(py)?,
        b.get()._args(py)?,
        b.get().is_cancelled(py)?,
    );
    Ok(xa == xb && ca.bind(py).eq(cb)? && aa.bind(py).eq(ab)?)
}
