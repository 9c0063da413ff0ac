//! Raw `METH_FASTCALL | METH_KEYWORDS` methods: positional arguments as a
//! vector, keywords as names plus values after them, no tuple or dict made
//! for either (what Argument Clinic gives CPython's own methods). The loop's
//! scheduling methods use them, where the calling convention exists
//! (the full API, and the limited API from 3.10 on).

use std::ffi::CStr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use pyo3::Borrowed;

/// A method taking positional and keyword arguments.
pub(crate) trait RawKwMethod {
    /// `__name__`.
    const NAME: &'static CStr;
    /// `__doc__`, starting with CPython's text signature.
    const DOC: &'static CStr;

    /// The call: `slf` is an instance of the class the descriptor was made
    /// for (CPython checks), `args` the positional arguments, `kwargs` the
    /// keywords.
    ///
    /// # Errors
    ///
    /// Whatever the method raises.
    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
        kwargs: Keywords<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>>;
}

/// The positional arguments of one call, as CPython passed them: a vector
/// of live objects borrowed for the call (no copy is made of it).
#[derive(Clone, Copy)]
pub(crate) struct Args<'a, 'py> {
    items: &'a [*mut ffi::PyObject],
    py: Python<'py>,
}

impl<'a, 'py> Args<'a, 'py> {
    /// How many.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The `N` first arguments and the rest, or `None` with fewer than `N`.
    pub(crate) fn split_first<const N: usize>(
        self,
    ) -> Option<([Borrowed<'a, 'py, PyAny>; N], Args<'a, 'py>)> {
        let (head, rest) = self.items.split_first_chunk::<N>()?;
        // SAFETY: every item is a live object borrowed for the call (see
        // `fastcall_kw`).
        let head = head.map(|p| unsafe { Borrowed::from_ptr(self.py, p) });
        Some((
            head,
            Args {
                items: rest,
                py: self.py,
            },
        ))
    }

    /// Each argument.
    pub(crate) fn iter(self) -> impl ExactSizeIterator<Item = Borrowed<'a, 'py, PyAny>> {
        // SAFETY: as in `split_first`.
        self.items
            .iter()
            .map(move |p| unsafe { Borrowed::from_ptr(self.py, *p) })
    }
}

/// The keyword arguments of one call: names (a tuple of str) and values.
pub(crate) struct Keywords<'a, 'py> {
    names: Option<&'a Bound<'py, PyTuple>>,
    values: &'a [*mut ffi::PyObject],
}

impl<'py> Keywords<'_, 'py> {
    /// Calls `f(name, value)` for each keyword argument.
    ///
    /// # Errors
    ///
    /// The first error of `f`.
    pub(crate) fn for_each(
        &self,
        mut f: impl FnMut(&Bound<'py, PyAny>, Bound<'py, PyAny>) -> PyResult<()>,
    ) -> PyResult<()> {
        let Some(names) = self.names else {
            return Ok(());
        };
        for (name, value) in names.iter().zip(self.values.iter()) {
            // SAFETY: CPython passes one live value per name, borrowed for
            // the call; a new reference is taken.
            let value = unsafe { Bound::from_borrowed_ptr(names.py(), *value) };
            f(&name, value)?;
        }
        Ok(())
    }
}

/// The C function of `F`.
unsafe extern "C" fn fastcall_kw<F: RawKwMethod>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls C functions with the GIL held.
    let py = unsafe { Python::assume_gil_acquired() };
    let body = || -> PyResult<Bound<'_, PyAny>> {
        let nargs = usize::try_from(nargs).unwrap_or(0);
        // SAFETY: `kwnames` is NULL or a tuple of str, alive for the call.
        let names = (!kwnames.is_null()).then(|| unsafe {
            Bound::from_borrowed_ptr(py, kwnames).downcast_into_unchecked::<PyTuple>()
        });
        let nkw = names.as_ref().map_or(0, |n| n.len());
        let all: &[*mut ffi::PyObject] = if nargs + nkw == 0 {
            &[]
        } else {
            // SAFETY: CPython passes `nargs` positional values followed by
            // one value per keyword name at `args`, alive for the call.
            unsafe { std::slice::from_raw_parts(args, nargs + nkw) }
        };
        // The positional values: live objects, borrowed for the call.
        let positional = Args {
            items: &all[..nargs],
            py,
        };
        // SAFETY: the instance CPython calls with, alive for the call.
        let slf = unsafe { Borrowed::from_ptr(py, slf) };
        let kwargs = Keywords {
            names: names.as_ref(),
            values: &all[nargs..],
        };
        F::call(py, slf, positional, kwargs)
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(obj)) => obj.into_ptr(),
        Ok(Err(err)) => {
            err.restore(py);
            std::ptr::null_mut()
        }
        Err(_) => {
            pyo3::panic::PanicException::new_err("panic from Rust code").restore(py);
            std::ptr::null_mut()
        }
    }
}

/// A `PyMethodDef` in a `static`.
pub(crate) struct KwMethodDef(ffi::PyMethodDef);

// SAFETY: never written after it is built; its pointers are to 'static data.
unsafe impl Sync for KwMethodDef {}

impl KwMethodDef {
    /// The definition of `F`, to keep in a `static`.
    pub(crate) const fn of<F: RawKwMethod>() -> Self {
        KwMethodDef(ffi::PyMethodDef {
            ml_name: F::NAME.as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunctionFastWithKeywords: fastcall_kw::<F>,
            },
            ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
            ml_doc: F::DOC.as_ptr(),
        })
    }
}

/// Sets the method descriptor of `def` on class `ty` (replacing the method
/// of that name).
///
/// # Errors
///
/// The descriptor cannot be allocated or set.
pub(crate) fn install(ty: &Bound<'_, PyType>, def: &'static KwMethodDef) -> PyResult<()> {
    // SAFETY: GIL held; the type is alive and the definition 'static;
    // CPython never writes through the definition pointer.
    let descr = unsafe {
        Bound::from_owned_ptr_or_err(
            ty.py(),
            ffi::PyDescr_NewMethod(ty.as_type_ptr(), std::ptr::from_ref(&def.0).cast_mut()),
        )?
    };
    // SAFETY: `ml_name` is a NUL-terminated 'static string.
    let name = unsafe { CStr::from_ptr(def.0.ml_name) }.to_str()?;
    ty.setattr(name, descr)
}
