//! `ioready_select`: CPython 3.11's `select` module for Linux, on the ioready
//! library.
//!
//! The module is a drop-in replacement: `select()`, `poll()` objects, `epoll`
//! objects, `error` (which is `OSError`) and every constant, with CPython's
//! argument handling, exceptions and messages. The waits are the library's
//! ([`ioready::SelectSets::select_once`], [`ioready::Poll::poll_once`],
//! [`ioready::Epoll::wait_once`]); this crate converts arguments, releases
//! the GIL while waiting and retries `EINTR` with the time that remains
//! (PEP 475), running Python's signal handlers between attempts.
//!
//! One difference on purpose: `select()` accepts descriptors numbered 1024
//! and above (CPython raises `ValueError`), since the library's `fd_set`s
//! grow to the highest descriptor.
//!
//! This file only declares and registers (pydantic-core's layout):
//!
//! * the three waits, one module each: [`select`], [`poll`], [`epoll`];
//! * what they share: argument conversions ([`args`]), CPython's timeout
//!   rules ([`pytime`]), the exceptions ([`errors`]), the wait loop with
//!   PEP 475 ([`wait`]);
//! * every raw CPython call, apart ([`ffi`], orjson's layout).

mod args;
mod epoll;
mod errors;
mod ffi;
mod poll;
mod pytime;
mod select;
mod wait;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// This module supports asynchronous I/O on multiple file descriptors.
///
/// *** IMPORTANT NOTICE ***
/// On Windows, only sockets are supported; on Unix, all file descriptors.
///
/// (ioready_select: CPython's select module on the ioready Rust library.)
#[pymodule]
fn _ioready_select(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
