//! An instance's own attributes, read without looking `__dict__` up
//! through its class and every base (an `EventLoop` has six): the loop
//! reads its clock through `now` several times a turn, and that lookup
//! cost more than the rest of the turn's bookkeeping.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The instance dictionary of `obj` (made if it had none yet), or `None`
/// if its class gives its instances none.
#[cfg(any(not(Py_LIMITED_API), Py_3_10))]
pub(crate) fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let py = obj.py();
    // SAFETY: the GIL is held (`obj` is bound) and `obj` is alive; the
    // call returns a new reference, or NULL with an exception set (no
    // instance dictionary), which is taken and dropped.
    let dict = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            pyo3::ffi::PyObject_GenericGetDict(obj.as_ptr(), std::ptr::null_mut()),
        )
    };
    dict.ok().and_then(|d| d.downcast_into::<PyDict>().ok())
}

/// The instance dictionary of `obj`, or `None` if it has none (the
/// limited API of 3.9 lacks `PyObject_GenericGetDict`).
#[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
pub(crate) fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let dict = obj.getattr(pyo3::intern!(obj.py(), "__dict__")).ok()?;
    dict.downcast_into::<PyDict>().ok()
}
