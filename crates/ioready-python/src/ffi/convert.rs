//! CPython's own conversions of arguments, called directly so that the
//! results, and the exceptions with their messages, are exactly CPython's.

use std::ffi::{c_long, c_longlong, c_ulong, CStr};
use std::os::fd::RawFd;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// A C conversion's result: `failed` is its error value, which it returns
/// with an exception set when it fails (and without one for a legitimate
/// value equal to it).
fn checked<T: PartialEq>(py: Python<'_>, value: T, failed: T) -> PyResult<T> {
    if value == failed {
        if let Some(err) = PyErr::take(py) {
            return Err(err);
        }
    }
    Ok(value)
}

/// `PyObject_AsFileDescriptor`: an `int`, or an object whose `fileno()`
/// returns one.
///
/// # Errors
///
/// CPython's `TypeError` (no `fileno()`, or it returned a non-int),
/// `ValueError` (negative) or `OverflowError`.
pub(crate) fn file_descriptor(obj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    // SAFETY: `obj` is a live object and the GIL is held (we have a `Bound`).
    let fd = unsafe { ffi::PyObject_AsFileDescriptor(obj.as_ptr()) };
    if fd < 0 {
        // It never returns a negative number without an exception set.
        return Err(PyErr::fetch(obj.py()));
    }
    Ok(fd)
}

/// `PyLong_Check`: whether `obj` is an `int` (or a subclass, as `bool`).
pub(crate) fn is_int(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: live object, GIL held.
    unsafe { ffi::PyLong_Check(obj.as_ptr()) != 0 }
}

/// `PyLong_AsUnsignedLong` of an `int` (no `__index__`).
///
/// # Errors
///
/// `OverflowError` if negative or too large; `TypeError` if not an `int`.
pub(crate) fn as_unsigned_long(obj: &Bound<'_, PyAny>) -> PyResult<c_ulong> {
    // SAFETY: live object, GIL held; `c_ulong::MAX` with an exception set
    // on error.
    let v = unsafe { ffi::PyLong_AsUnsignedLong(obj.as_ptr()) };
    checked(obj.py(), v, c_ulong::MAX)
}

/// `PyLong_AsUnsignedLongMask`: the low bits of an integer (`__index__`
/// accepted, no range check).
///
/// # Errors
///
/// `TypeError` if `obj` is not an integer.
pub(crate) fn as_unsigned_long_mask(obj: &Bound<'_, PyAny>) -> PyResult<c_ulong> {
    // SAFETY: live object, GIL held; `c_ulong::MAX` with an exception set
    // on error.
    let v = unsafe { ffi::PyLong_AsUnsignedLongMask(obj.as_ptr()) };
    checked(obj.py(), v, c_ulong::MAX)
}

/// `PyLong_AsLong` (`__index__` accepted).
///
/// # Errors
///
/// `TypeError` if `obj` is not an integer, `OverflowError` out of range.
pub(crate) fn as_long(obj: &Bound<'_, PyAny>) -> PyResult<c_long> {
    // SAFETY: live object, GIL held; -1 with an exception set on error.
    let v = unsafe { ffi::PyLong_AsLong(obj.as_ptr()) };
    checked(obj.py(), v, -1)
}

/// `PyLong_AsLongLong` (`__index__` accepted).
///
/// # Errors
///
/// `TypeError` if `obj` is not an integer, `OverflowError` out of range.
pub(crate) fn as_long_long(obj: &Bound<'_, PyAny>) -> PyResult<c_longlong> {
    // SAFETY: live object, GIL held; -1 with an exception set on error.
    let v = unsafe { ffi::PyLong_AsLongLong(obj.as_ptr()) };
    checked(obj.py(), v, -1)
}

/// CPython's iteration of a sequence argument (`PySequence_Fast`): `each`
/// is called with every item in order. For a list the length is read again
/// at every step: `each` may shrink it (a `fileno()` that mutates the list),
/// and CPython then stops early (`test_select_mutated`).
///
/// # Errors
///
/// `TypeError` with `message` if `seq` is not iterable; the iteration's
/// error; the first error of `each`, which ends the iteration.
pub(crate) fn for_each_item<'py>(
    seq: &Bound<'py, PyAny>,
    message: &'static CStr,
    mut each: impl FnMut(Bound<'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    let py = seq.py();
    // SAFETY: GIL held; the message is a NUL-terminated static string;
    // `PySequence_Fast` returns a new reference to a list or tuple, or NULL
    // with an exception set.
    let fast = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PySequence_Fast(seq.as_ptr(), message.as_ptr()))?
    };
    if let Ok(list) = fast.downcast::<PyList>() {
        let mut i = 0;
        while i < list.len() {
            // SAFETY: GIL held; `i` is below the list's current length, so
            // the slot holds a live object (borrowed), of which
            // `from_borrowed_ptr` takes a new reference. (In the stable ABI,
            // `PyList_GetItem`, the checked function form.)
            let obj = unsafe {
                #[cfg(not(Py_LIMITED_API))]
                let item = ffi::PyList_GET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t);
                #[cfg(Py_LIMITED_API)]
                let item = ffi::PyList_GetItem(list.as_ptr(), i as ffi::Py_ssize_t);
                Bound::from_borrowed_ptr(py, item)
            };
            each(obj)?;
            i += 1;
        }
    } else {
        for obj in fast.downcast::<PyTuple>()?.iter() {
            each(obj)?;
        }
    }
    Ok(())
}
