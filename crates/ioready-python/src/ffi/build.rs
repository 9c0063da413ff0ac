//! Result lists and tuples, built in place: one allocation per object, as
//! CPython's own module builds them (`PyList_New(n)` then each slot set
//! once), rather than through an intermediate `Vec`.

use pyo3::exceptions::PySystemError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// Fills slot `i` of a new list, stealing `item` (`PyList_SET_ITEM`; in the
/// stable ABI its function form, which cannot fail here).
///
/// # Safety
///
/// GIL held; `list` is a list of more than `i` items whose slot `i` is
/// empty; `item` is a new reference.
unsafe fn list_set(list: *mut ffi::PyObject, i: usize, item: *mut ffi::PyObject) {
    // SAFETY: as the caller promises.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        ffi::PyList_SET_ITEM(list, i as ffi::Py_ssize_t, item);
        // It fails only for a non-list or an index out of range.
        #[cfg(Py_LIMITED_API)]
        ffi::PyList_SetItem(list, i as ffi::Py_ssize_t, item);
    }
}

/// A new list of the first `n` objects of `items` (each one a new
/// reference to an object of `items`).
///
/// # Errors
///
/// `MemoryError` if the list cannot be allocated; `SystemError` naming
/// `what` if `items` yields fewer than `n` objects (a bug: the list is then
/// dropped, never returned half-filled).
pub(crate) fn list_of<'a, 'py: 'a>(
    py: Python<'py>,
    n: usize,
    items: impl Iterator<Item = &'a Bound<'py, PyAny>>,
    what: &'static str,
) -> PyResult<Bound<'py, PyList>> {
    // SAFETY: GIL held (`py`). `PyList_New(n)` returns a new list with `n`
    // NULL slots (or NULL with an exception), owned by the `Bound` from
    // here on; slot `j < n` is set once (`take(n)`), with a new reference
    // that it steals. A list with a NULL slot left is dropped, never
    // returned (list_dealloc skips NULL slots).
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n as ffi::Py_ssize_t))?;
        let mut filled = 0;
        for (j, obj) in items.take(n).enumerate() {
            list_set(list.as_ptr(), j, obj.clone().into_ptr());
            filled += 1;
        }
        if filled != n {
            return Err(PySystemError::new_err(what));
        }
        Ok(list.downcast_into_unchecked())
    }
}

/// A new list of `(fd, events)` tuples of ints.
///
/// # Errors
///
/// `MemoryError` if an object cannot be allocated; `SystemError` if
/// `pairs` yields fewer items than its `len()` said (a bug).
pub(crate) fn pair_list<'py>(
    py: Python<'py>,
    pairs: impl ExactSizeIterator<Item = (i64, i64)>,
) -> PyResult<Bound<'py, PyList>> {
    let n = pairs.len();
    // SAFETY: GIL held. `PyList_New(n)` returns a new list with `n` NULL
    // slots (or NULL with an exception); the `Bound` owns it from here, so
    // an early return drops it (list_dealloc skips NULL slots). Each slot
    // `i < n` is filled exactly once with a new reference it steals; the
    // iterator is exact-size, and `take(n)` makes sure no index is past the
    // end; a list left with empty slots is never returned.
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n as ffi::Py_ssize_t))?;
        let mut filled = 0;
        for (i, (a, b)) in pairs.take(n).enumerate() {
            #[cfg(not(Py_LIMITED_API))]
            {
                let tuple = ffi::PyTuple_New(2);
                if tuple.is_null() {
                    return Err(PyErr::fetch(py));
                }
                // The tuple is owned by the list from here (freed with it).
                list_set(list.as_ptr(), i, tuple);
                for (j, v) in [(0, a), (1, b)] {
                    let item = Bound::from_owned_ptr_or_err(py, int(v))?;
                    ffi::PyTuple_SET_ITEM(tuple, j, item.into_ptr());
                }
            }
            // In the limited API the tuple is made by one `PyTuple_Pack`
            // (new references to both ints) instead of `PyTuple_New` and two
            // checked `PyTuple_SetItem` calls; our references drop after.
            #[cfg(Py_LIMITED_API)]
            {
                let a = Bound::from_owned_ptr_or_err(py, int(a))?;
                let b = Bound::from_owned_ptr_or_err(py, int(b))?;
                let tuple = ffi::PyTuple_Pack(2, a.as_ptr(), b.as_ptr());
                if tuple.is_null() {
                    return Err(PyErr::fetch(py));
                }
                list_set(list.as_ptr(), i, tuple);
            }
            filled += 1;
        }
        if filled != n {
            return Err(PySystemError::new_err("poll: fewer results than announced"));
        }
        Ok(list.downcast_into_unchecked())
    }
}

/// A new int (NULL with an exception if it cannot be allocated):
/// `PyLong_FromLong`, as CPython's module, the shorter path (`long` is 64
/// bits on 64-bit Linux: the test folds away).
///
/// # Safety
///
/// GIL held.
unsafe fn int(v: i64) -> *mut ffi::PyObject {
    // SAFETY: GIL held (the caller's promise); both only allocate.
    unsafe {
        match std::ffi::c_long::try_from(v) {
            Ok(v) => ffi::PyLong_FromLong(v),
            Err(_) => ffi::PyLong_FromLongLong(v),
        }
    }
}

/// `(a, b, c)` of three lists, built directly.
///
/// # Errors
///
/// `MemoryError` if the tuple cannot be allocated.
pub(crate) fn tuple3<'py>(
    py: Python<'py>,
    lists: [Bound<'py, PyList>; 3],
) -> PyResult<Bound<'py, PyTuple>> {
    // SAFETY: GIL held; `PyTuple_New(3)` returns a new tuple with 3 NULL
    // slots (or NULL with an exception), owned by the `Bound`; each slot is
    // set once with a new reference, which it steals.
    #[cfg(not(Py_LIMITED_API))]
    unsafe {
        let tuple = Bound::from_owned_ptr_or_err(py, ffi::PyTuple_New(3))?;
        for (i, list) in lists.into_iter().enumerate() {
            ffi::PyTuple_SET_ITEM(tuple.as_ptr(), i as ffi::Py_ssize_t, list.into_ptr());
        }
        Ok(tuple.downcast_into_unchecked())
    }
    // SAFETY: GIL held; `PyTuple_Pack` returns a new tuple holding new
    // references to the three live lists (or NULL with an exception); ours
    // drop after. One call instead of three checked `PyTuple_SetItem`.
    #[cfg(Py_LIMITED_API)]
    unsafe {
        let [a, b, c] = &lists;
        let tuple = ffi::PyTuple_Pack(3, a.as_ptr(), b.as_ptr(), c.as_ptr());
        Ok(Bound::from_owned_ptr_or_err(py, tuple)?.downcast_into_unchecked())
    }
}
