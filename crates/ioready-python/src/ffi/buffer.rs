//! The buffer protocol: the bytes of a bytes-like object, read-only or
//! writable, for the stream transport's `write` and `recv_into`.
//!
//! `PyObject_GetBuffer` is in the limited API from 3.11 on; the stable-ABI
//! builds for older versions have no buffer protocol and the callers fall
//! back to Python-level calls there.

#[cfg(any(not(Py_LIMITED_API), Py_3_11))]
use pyo3::prelude::*;

/// Calls `f` with the bytes of `obj` (a C-contiguous buffer), writable if
/// `writable`, released afterwards.
///
/// # Errors
///
/// `TypeError` if `obj` has no (writable) buffer; `BufferError` on the
/// other failures of `PyObject_GetBuffer`.
#[cfg(any(not(Py_LIMITED_API), Py_3_11))]
pub(crate) fn with_bytes<R>(
    obj: &Bound<'_, PyAny>,
    writable: bool,
    f: impl FnOnce(&mut [u8]) -> R,
) -> PyResult<R> {
    use pyo3::ffi;
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    let flags = if writable {
        ffi::PyBUF_WRITABLE
    } else {
        ffi::PyBUF_SIMPLE
    };
    // SAFETY: the GIL is held; `view` is written by the call when it
    // succeeds (returns 0) and released exactly once below.
    if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), flags) } != 0 {
        return Err(PyErr::fetch(obj.py()));
    }
    // SAFETY: initialised by the successful call above.
    let mut view = unsafe { view.assume_init() };
    let len = usize::try_from(view.len).unwrap_or(0);
    let result = if len == 0 || view.buf.is_null() {
        f(&mut [])
    } else {
        // SAFETY: a PyBUF_SIMPLE/PyBUF_WRITABLE request gives `len`
        // contiguous bytes at `buf`, alive until the release; writes are
        // made only when the exporter granted a writable buffer.
        f(unsafe { std::slice::from_raw_parts_mut(view.buf.cast::<u8>(), len) })
    };
    // SAFETY: the view obtained above, released once.
    unsafe { ffi::PyBuffer_Release(&mut view) };
    Ok(result)
}
