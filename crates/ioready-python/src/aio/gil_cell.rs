//! A `RefCell` that Python objects of the loop may share between threads,
//! because every access holds the GIL.
//!
//! PyO3 wants `#[pyclass]` types to be `Sync`. The loop's state is touched
//! from the loop's thread and, through `call_soon_threadsafe` and
//! `Handle.cancel`, from others, always with the GIL held: the GIL is the
//! lock, and this cell keeps `RefCell`'s borrow check on top of it, so a
//! re-entrant access (a callback reaching the loop while the loop holds a
//! borrow) is a Python `RuntimeError`, never aliasing. Borrows are kept
//! short and never span a call into Python code (dropping a Python object
//! can run Python code too: what a borrow removes is dropped after it).
//!
//! The extension does not declare itself free-threading safe
//! (`gil_used = false`), so a free-threaded CPython re-enables the GIL
//! when it imports the module, and this reasoning holds there as well.

use std::cell::{Ref, RefCell, RefMut};

use pyo3::exceptions::PyRuntimeError;
use pyo3::{PyResult, Python};

/// A `RefCell<T>` accessed only with the GIL held (see the module).
#[derive(Debug, Default)]
pub(crate) struct GilCell<T>(RefCell<T>);

// SAFETY: every access to the inner `RefCell` (its value and its borrow
// flag) goes through a method taking a `Python` token, i.e. with the GIL
// held, and the GIL serialises those accesses between threads (taking and
// releasing it are synchronising operations). `T: Send` because the value
// may be used, and dropped, on whichever thread holds the GIL.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    /// A cell holding `value`.
    pub(crate) fn new(value: T) -> Self {
        GilCell(RefCell::new(value))
    }

    /// Shared access, or `RuntimeError` if a mutable borrow is alive.
    ///
    /// # Errors
    ///
    /// `RuntimeError` on re-entrance (see the module).
    pub(crate) fn get<'a>(&'a self, _py: Python<'_>) -> PyResult<Ref<'a, T>> {
        self.0.try_borrow().map_err(|_| reentered())
    }

    /// Exclusive access, or `RuntimeError` if another borrow is alive.
    ///
    /// # Errors
    ///
    /// `RuntimeError` on re-entrance (see the module).
    pub(crate) fn get_mut<'a>(&'a self, _py: Python<'_>) -> PyResult<RefMut<'a, T>> {
        self.0.try_borrow_mut().map_err(|_| reentered())
    }

    /// Shared access for the garbage collector's `__traverse__`, which runs
    /// with the GIL held but is given no token; `None` while borrowed
    /// mutably (the collector then sees fewer references, which only keeps
    /// objects alive).
    pub(crate) fn for_gc(&self) -> Option<Ref<'_, T>> {
        self.0.try_borrow().ok()
    }
}

fn reentered() -> pyo3::PyErr {
    PyRuntimeError::new_err("ioready event loop: re-entrant access to the loop's state")
}
