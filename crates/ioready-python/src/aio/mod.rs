//! ioready's asyncio event loop, natively (the Python class
//! `ioready.EventLoop` combines [`core::LoopCore`] with asyncio's unix
//! selector loop; see `core`).
//!
//! * [`core`]: the loop's state and its scheduling methods ([`fast`]: the
//!   same as raw vector calls, where the build has them);
//! * [`run`]: one iteration (`_run_once`);
//! * [`handle`]: `Handle` and `TimerHandle`, [`callargs`] their arguments;
//! * [`timers`]: the timer heap;
//! * [`fds`] and [`readers`]: the registration table and
//!   `_add_reader`/`_remove_reader`/`_add_writer`/`_remove_writer`;
//!   [`sockwatch`]: the sock_* methods' registrations, kept between calls;
//! * [`stream`]: the native TCP/Unix stream transport;
//! * [`uring`]: the io_uring engine of the transports (`backend="uring"`);
//! * [`transport_common`]: what those two transports compute identically;
//! * [`view`]: the `loop._selector` asyncio's Python sees;
//! * [`clock`], [`gil_cell`], [`glue`]: the monotonic clock, the GIL-guarded
//!   cell the state lives in, the Python half of the cold paths.

pub(crate) mod callargs;
mod clock;
mod core;
#[cfg(any(not(Py_LIMITED_API), Py_3_10))]
mod fast;
mod fds;
mod gil_cell;
mod glue;
mod handle;
mod readers;
mod run;
mod sockwatch;
mod stream;
mod timers;
mod transport_common;
mod uring;
mod view;

use pyo3::prelude::*;

/// Adds the loop's classes to the extension module.
///
/// # Errors
///
/// Those of creating the type objects.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<core::LoopCore>()?;
    #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
    fast::install_on(&m.py().get_type::<core::LoopCore>())?;
    m.add_class::<handle::Handle>()?;
    m.add_class::<handle::TimerHandle>()?;
    // TimerHandle adds no object the collector must see (`when_obj` is a
    // number), so Handle's traverse serves it.
    #[cfg(not(Py_LIMITED_API))]
    for ty in [
        m.py().get_type::<handle::Handle>(),
        m.py().get_type::<handle::TimerHandle>(),
    ] {
        crate::ffi::gc::install_traverse::<handle::Handle>(&ty);
    }
    m.add_class::<view::SelectorView>()?;
    m.add_class::<stream::StreamTransport>()?;
    uring::register(m)?;
    Ok(())
}
