//! Argument conversions, CPython's message for message: the converters
//! Argument Clinic uses in CPython's `selectmodule.c`, as PyO3 extractors.

use std::os::fd::RawFd;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::ffi::convert;

/// A descriptor argument (CPython's `fildes` converter): an `int`, or an
/// object whose `fileno()` returns one.
pub(crate) struct FdArg(pub(crate) RawFd);

impl<'py> FromPyObject<'py> for FdArg {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        convert::file_descriptor(ob).map(FdArg)
    }
}

/// The `eventmask` of `poll.register`/`modify`: CPython's unsigned short
/// converter (ints only, `ValueError` if negative, `OverflowError` above
/// `USHRT_MAX`).
pub(crate) struct PollMask(pub(crate) u16);

impl<'py> FromPyObject<'py> for PollMask {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        if !convert::is_int(ob) {
            return Err(PyTypeError::new_err("an integer is required"));
        }
        if ob.lt(0)? {
            return Err(PyValueError::new_err("value must be positive"));
        }
        let v = convert::as_unsigned_long(ob)?;
        u16::try_from(v)
            .map(PollMask)
            .map_err(|_| PyOverflowError::new_err("Python int too large for C unsigned short"))
    }
}

/// The `eventmask` of `epoll.register`/`modify`: an unsigned int taken
/// bitwise, as CPython's `I` format (`__index__` accepted, no range check).
pub(crate) struct EpollMask(pub(crate) u32);

impl<'py> FromPyObject<'py> for EpollMask {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        // Truncation is the point: the `I` format keeps the low 32 bits.
        Ok(EpollMask(convert::as_unsigned_long_mask(ob)? as u32))
    }
}

/// A C `int` argument, converted as CPython's `_PyLong_AsInt` (`__index__`
/// accepted; its `OverflowError` message).
pub(crate) struct CInt(pub(crate) i32);

impl<'py> FromPyObject<'py> for CInt {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        let v = convert::as_long(ob)?;
        i32::try_from(v)
            .map(CInt)
            .map_err(|_| PyOverflowError::new_err("Python int too large to convert to C int"))
    }
}
