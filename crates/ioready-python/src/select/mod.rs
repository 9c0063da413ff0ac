//! The drop-in `select` module (`ioready.select`): CPython 3.11's `select`
//! for Linux on the ioready library.
//!
//! * the three waits, one file each: [`select`], [`poll`], [`epoll`];
//! * what they share: argument conversions ([`args`]), CPython's timeout
//!   rules ([`pytime`]), the exceptions ([`errors`]), the wait loop with
//!   PEP 475 ([`wait`]).
//!
//! One difference on purpose: `select()` accepts descriptors numbered 1024
//! and above (CPython raises `ValueError`), since the library's `fd_set`s
//! grow to the highest descriptor.

pub(crate) mod args;
pub(crate) mod epoll;
pub(crate) mod errors;
pub(crate) mod poll;
pub(crate) mod pytime;
#[allow(clippy::module_inception)]
pub(crate) mod select;
pub(crate) mod wait;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::ffi;

/// Adds the `select` API to the extension module `m`: `select`, `poll`,
/// `epoll`, `error` and the constants (`ioready.select` re-exports them).
///
/// # Errors
///
/// Those of creating the function objects and adding attributes.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // `select` and `poll.poll` are raw entry points (see `ffi::call`);
    // `poll.poll` becomes a method descriptor of the class, replacing
    // nothing (PyO3 defines no `poll` method on it).
    m.add("select", ffi::call::new_function(m, &select::SELECT_DEF)?)?;
    m.add_function(wrap_pyfunction!(poll::poll, m)?)?;
    let poll_type = py.get_type::<poll::PollObject>();
    poll_type.setattr(
        "poll",
        ffi::call::new_method(&poll_type, &poll::POLL_POLL_DEF)?,
    )?;
    m.add_class::<epoll::EpollObject>()?;
    m.add("error", py.get_type::<PyOSError>())?;

    m.add("PIPE_BUF", libc::PIPE_BUF)?;
    for (name, flag) in poll::CONSTANTS {
        m.add(name, flag.bits())?;
    }
    for (name, flag) in epoll::CONSTANTS {
        m.add(name, flag.bits())?;
    }
    m.add("EPOLL_CLOEXEC", libc::EPOLL_CLOEXEC)?;
    Ok(())
}
