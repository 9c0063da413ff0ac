//! The GIL released around a wait.

use pyo3::ffi;
use pyo3::Python;

/// The GIL released for as long as this value lives (`PyEval_SaveThread`,
/// then `PyEval_RestoreThread` on drop, also when unwinding).
///
/// Used instead of PyO3's `allow_threads` on the hot paths: it is the two
/// calls CPython's `Py_BEGIN/END_ALLOW_THREADS` make, without PyO3's
/// bookkeeping around them. Creating one needs a `Python` token (the GIL is
/// held); only plain Rust (a syscall) may run while it lives, which the
/// callers (`wait.rs`, `select.rs`, `poll.rs`) keep to.
pub(crate) struct GilReleased(*mut ffi::PyThreadState);

impl GilReleased {
    /// Releases the GIL until the value is dropped.
    ///
    /// # Safety
    ///
    /// The Python API (and any Python object) must not be used until the
    /// value is dropped: the thread no longer holds the GIL, whatever
    /// tokens it still has.
    pub(crate) unsafe fn new(_py: Python<'_>) -> Self {
        // SAFETY: `_py` proves the calling thread holds the GIL; the caller
        // promises not to use Python until the drop retakes it.
        GilReleased(unsafe { ffi::PyEval_SaveThread() })
    }
}

impl Drop for GilReleased {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the thread state `PyEval_SaveThread` returned
        // on this thread, restored exactly once.
        unsafe { ffi::PyEval_RestoreThread(self.0) };
    }
}
