//! The garbage collector's `tp_traverse`, raw, for the classes made and
//! dropped once per callback (`Handle`, `TimerHandle`).
//!
//! PyO3's `__traverse__` wrapper takes a thread-local lock, walks the type's
//! bases for a parent traverse, and catches panics around the call: about
//! 80 instructions per object per visit, and the collector visits a young
//! handle twice per collection (counting and marking), so it cost more than
//! the handle's whole creation. The slot set here visits the same objects
//! with none of that; the limited API has no access to the slot, so its
//! builds keep PyO3's.

use std::ffi::{c_int, c_void};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::PyClass;

/// A class whose instances hold Python objects the collector must see.
pub(crate) trait Referents:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// Calls `visit` on each object held, stopping at (and returning) the
    /// first non-zero result. Reads only: no Python code may run, nothing
    /// may be allocated or released.
    fn each_referent(&self, visit: impl FnMut(&Py<PyAny>) -> c_int) -> c_int;
}

/// The `tp_traverse` of `T`.
unsafe extern "C" fn traverse<T: Referents>(
    slf: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the collector runs with the GIL held; `each_referent`
    // promises not to run Python code or touch reference counts.
    let py = unsafe { Python::assume_gil_acquired() };
    // SAFETY: `slf` is the live object the collector visits.
    let any = unsafe { Borrowed::from_ptr(py, slf) };
    // SAFETY: the slot is installed only on `T`'s class or on a subclass
    // whose layout starts with `T`'s (`install_traverse`); `T` is frozen,
    // so `get` reads without a borrow flag.
    let this = unsafe { any.downcast_unchecked::<T>() };
    // SAFETY: `visit` and `arg` are the collector's, called as it expects,
    // on live objects the instance holds.
    this.get()
        .each_referent(|obj| unsafe { visit(obj.as_ptr(), arg) })
}

/// Sets the raw `tp_traverse` of `T` on class `ty` (`T`'s own class, or a
/// subclass that adds no objects to traverse).
pub(crate) fn install_traverse<T: Referents>(ty: &Bound<'_, PyType>) {
    // SAFETY: the GIL is held (`ty` is bound); the class is ready and
    // garbage-collected (PyO3 gave it a traverse), and its slot is replaced
    // before any instance exists for the collector to visit with the old
    // one. Types made by PyO3 are heap types this module owns.
    unsafe { (*ty.as_type_ptr()).tp_traverse = Some(traverse::<T>) };
}
