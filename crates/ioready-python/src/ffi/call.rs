//! Raw entry points: `select()` and `poll.poll()`, the calls made in loops,
//! are plain C functions, as Argument Clinic makes them in CPython, instead
//! of going through PyO3's generic argument extraction (about 200
//! instructions per call). They check the argument count with CPython's
//! messages (`errors::arg_count_error`) and otherwise run the same code as
//! everything else.
//!
//! The calling convention is `METH_FASTCALL` (a vector of arguments), or,
//! in the stable-ABI build for CPython >= 3.9 (cargo feature `abi3`),
//! `METH_VARARGS` (a tuple): `METH_FASTCALL` is in the limited API only
//! from 3.10 on (feature `abi3-py310` uses it). CPython rejects keyword
//! arguments for both, with the same message.
//!
//! A raw entry point is a type implementing [`RawFunction`]; its
//! definition ([`MethodDef::of`]) becomes a module function
//! ([`new_function`]) or a method descriptor of a class ([`new_method`]).

use std::ffi::CStr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::Borrowed;

/// A Python-callable function taking positional arguments only.
pub(crate) trait RawFunction {
    /// `__name__`.
    const NAME: &'static CStr;
    /// `__doc__`, starting with CPython's text signature
    /// (`name($self, a, b=None, /)\n--\n\n`).
    const DOC: &'static CStr;

    /// The call: `slf` is the module for a module function, the instance
    /// for a method (of the class the descriptor was made for: CPython
    /// checks it before calling).
    ///
    /// # Errors
    ///
    /// Whatever the function raises; it becomes the Python exception.
    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>>;
}

/// The positional arguments of one call, borrowed from the caller: a
/// vector (`METH_FASTCALL`) or a tuple (`METH_VARARGS`, stable ABI for 3.9).
pub(crate) struct Args<'a, 'py> {
    py: Python<'py>,
    #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
    items: &'a [*mut ffi::PyObject],
    #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
    tuple: *mut ffi::PyObject,
    #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
    len: usize,
    #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
    _call: std::marker::PhantomData<&'a ()>,
}

impl<'a, 'py> Args<'a, 'py> {
    /// How many were passed.
    pub(crate) fn len(&self) -> usize {
        #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
        return self.items.len();
        #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
        return self.len;
    }

    /// Argument `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, as slice indexing (callers check the count
    /// first; a panic would become a `PanicException`).
    pub(crate) fn get(&self, i: usize) -> Borrowed<'a, 'py, PyAny> {
        #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
        let item = self.items[i];
        #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
        let item = {
            assert!(i < self.len(), "argument {i} of {}", self.len());
            // SAFETY: GIL held; `i` is in range, so `PyTuple_GetItem`
            // returns the (borrowed) item, never NULL.
            unsafe { ffi::PyTuple_GetItem(self.tuple, i as ffi::Py_ssize_t) }
        };
        // SAFETY: CPython passes live objects, borrowed for the call, which
        // outlives `'a`; the GIL is held (`self.py`).
        unsafe { Borrowed::from_ptr(self.py, item) }
    }
}

/// Runs the body of a raw entry point: its error is set as the Python
/// exception (and NULL returned); a panic becomes PyO3's `PanicException`
/// instead of unwinding into C.
fn entry<F>(py: Python<'_>, body: F) -> *mut ffi::PyObject
where
    F: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
{
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(py))) {
        Ok(Ok(obj)) => obj.into_ptr(),
        Ok(Err(err)) => {
            err.restore(py);
            std::ptr::null_mut()
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic from Rust code".to_owned());
            pyo3::panic::PanicException::new_err(msg).restore(py);
            std::ptr::null_mut()
        }
    }
}

/// The `METH_FASTCALL` C function of `F`.
#[cfg(any(not(Py_LIMITED_API), Py_3_10))]
unsafe extern "C" fn fastcall<F: RawFunction>(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls C functions with the GIL held.
    let py = unsafe { Python::assume_gil_acquired() };
    entry(py, |py| {
        let items = match usize::try_from(nargs) {
            // SAFETY: CPython passes `nargs` live objects at `args`
            // (possibly a dangling pointer when there are none, which a
            // zero-length slice never reads), alive for the call.
            Ok(n) if n > 0 => unsafe { std::slice::from_raw_parts(args, n) },
            _ => &[],
        };
        // SAFETY: `slf` is the module or the instance CPython calls with,
        // alive for the call.
        let slf = unsafe { Borrowed::from_ptr(py, slf) };
        F::call(py, slf, Args { py, items })
    })
}

/// The `METH_VARARGS` C function of `F` (stable ABI for 3.9).
#[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
unsafe extern "C" fn varargs<F: RawFunction>(
    slf: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls C functions with the GIL held.
    let py = unsafe { Python::assume_gil_acquired() };
    entry(py, |py| {
        // SAFETY: CPython passes the positional arguments as a tuple (never
        // NULL for `METH_VARARGS`), alive for the call, whose size
        // `PyTuple_Size` reads (it fails only for a non-tuple); `slf` is
        // the module or the instance, alive for the call.
        let (len, slf) = unsafe { (ffi::PyTuple_Size(args), Borrowed::from_ptr(py, slf)) };
        let args = Args {
            py,
            tuple: args,
            len: usize::try_from(len).unwrap_or(0),
            _call: std::marker::PhantomData,
        };
        F::call(py, slf, args)
    })
}

/// A `PyMethodDef` in a `static` (it holds raw pointers, to 'static data).
pub(crate) struct MethodDef(ffi::PyMethodDef);

// SAFETY: the definition is never written after it is built; its pointers
// are to `'static` strings and functions.
unsafe impl Sync for MethodDef {}

impl MethodDef {
    /// The definition of `F`, to keep in a `static`.
    pub(crate) const fn of<F: RawFunction>() -> Self {
        MethodDef(ffi::PyMethodDef {
            ml_name: F::NAME.as_ptr(),
            #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunctionFast: fastcall::<F>,
            },
            #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
            ml_flags: ffi::METH_FASTCALL,
            #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunction: varargs::<F>,
            },
            #[cfg(all(Py_LIMITED_API, not(Py_3_10)))]
            ml_flags: ffi::METH_VARARGS,
            ml_doc: F::DOC.as_ptr(),
        })
    }

    fn as_ptr(&'static self) -> *mut ffi::PyMethodDef {
        // CPython takes `PyMethodDef *` but never writes through it.
        std::ptr::from_ref(&self.0).cast_mut()
    }
}

/// A builtin function of module `m` (its `__module__` is the module's
/// name, as PyO3 gives its functions).
///
/// # Errors
///
/// The module has no name, or the function cannot be allocated.
pub(crate) fn new_function<'py>(
    m: &Bound<'py, PyModule>,
    def: &'static MethodDef,
) -> PyResult<Bound<'py, PyAny>> {
    let name = m.name()?;
    // SAFETY: GIL held; `def` is 'static; `PyCFunction_NewEx` returns a new
    // reference or NULL with an exception.
    unsafe {
        Bound::from_owned_ptr_or_err(
            m.py(),
            ffi::PyCFunction_NewEx(def.as_ptr(), m.as_ptr(), name.as_ptr()),
        )
    }
}

/// A method descriptor for class `ty`: CPython checks `self` against `ty`
/// before calling, with its own messages.
///
/// # Errors
///
/// The descriptor cannot be allocated.
pub(crate) fn new_method<'py>(
    ty: &Bound<'py, PyType>,
    def: &'static MethodDef,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: GIL held; the type object is alive (`ty`) and the definition
    // is 'static; `PyDescr_NewMethod` returns a new reference or NULL with
    // an exception.
    unsafe {
        Bound::from_owned_ptr_or_err(
            ty.py(),
            ffi::PyDescr_NewMethod(ty.as_type_ptr(), def.as_ptr()),
        )
    }
}
