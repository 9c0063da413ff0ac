//! The registrations of the sock_* methods, kept between calls.
//!
//! asyncio's `sock_recv` (and `sock_sendall`, `sock_accept`, ...) tries the
//! socket and, when it would block, registers a reader (writer) whose
//! callback does the operation once and completes the future, whose done
//! callback removes the reader again: an `epoll_ctl` ADD and DEL for every
//! message of a request/response loop. Here the kernel registration stays
//! (the entry is *parked*: no reader or writer, hidden from
//! `loop._selector`), so the next call on the same socket costs no system
//! call at all.
//!
//! Why that is sound:
//!
//! * Only asyncio's own sock_* callbacks (`_glue.SOCK_CALLBACKS`, bound to
//!   this loop, given their socket as the second argument, as asyncio calls
//!   them) get it. Each does one operation, treats `EAGAIN` as "wait again",
//!   and the next sock_* call tries the socket before it waits, so they are
//!   served by an **edge-triggered** registration (for reading and writing
//!   at once, so reader and writer share it with no change): a parked
//!   registration reports an event once per new arrival at most, never on
//!   every wait, whatever happens to the descriptor.
//! * An event on a parked entry drops it (`epoll_ctl` DEL then, once).
//! * The parked entry holds a weak reference to its socket. The
//!   registration is reused only by the same socket object, alive and still
//!   on the same descriptor (`same_owner`): a socket object holds its descriptor until it
//!   is closed or detached, after which its `fileno()` is -1, so the file is
//!   the one registered. Anything else (a new socket on a reused number,
//!   `add_reader` from the user, a transport) re-registers: MOD, and ADD if
//!   the kernel forgot the registration with the closed file (`ENOENT`).
//!   User readers and writers keep asyncio's level-triggered registration
//!   (an edge-triggered entry is changed to level when one is added).
//! * A socket closed while parked whose file lives on elsewhere (a `dup`,
//!   a forked child) leaves an edge-triggered registration the loop can no
//!   longer name; it reports that file's new arrivals as spurious events
//!   (each at most once, each harmless: a sock_* callback retries, a
//!   transport reads `EAGAIN`), never a busy loop.
//! * On the select and poll backends (no edge trigger) nothing is kept:
//!   the registration comes and goes as in asyncio.

use std::os::fd::RawFd;

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyTuple, PyType};

use super::core::LoopCore;

/// `types.MethodType`, `weakref.ref` and `_glue.SOCK_CALLBACKS`, once.
struct Lookups {
    method_type: Py<PyType>,
    weakref: Py<PyAny>,
    callbacks: Vec<Py<PyAny>>,
}

static LOOKUPS: GILOnceCell<Lookups> = GILOnceCell::new();

fn lookups(py: Python<'_>) -> PyResult<&Lookups> {
    LOOKUPS.get_or_try_init(py, || {
        let glue = py.import("ioready._glue")?;
        let callbacks = glue
            .getattr("SOCK_CALLBACKS")?
            .try_iter()?
            .map(|f| f.map(Bound::unbind))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Lookups {
            method_type: py
                .import("types")?
                .getattr("MethodType")?
                .downcast_into::<PyType>()?
                .unbind(),
            weakref: py.import("weakref")?.getattr("ref")?.unbind(),
            callbacks,
        })
    })
}

/// The socket of a sock_* registration: `args[1]` when `callback` is one of
/// asyncio's sock_* callbacks bound to `loop_` and that socket is on `fd`;
/// else `None` (a registration like any other).
///
/// # Errors
///
/// Those of the lookups (an import error), or of the socket's `fileno()`.
pub(crate) fn sock_owner<'py>(
    loop_: &Bound<'py, LoopCore>,
    callback: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    fd: RawFd,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = loop_.py();
    let found = lookups(py)?;
    if !callback.get_type().is(found.method_type.bind(py)) || args.len() < 2 {
        return Ok(None);
    }
    if !callback
        .getattr(pyo3::intern!(py, "__self__"))?
        .is(loop_.as_any())
    {
        return Ok(None);
    }
    let func = callback.getattr(pyo3::intern!(py, "__func__"))?;
    if !found.callbacks.iter().any(|f| f.bind(py).is(&func)) {
        return Ok(None);
    }
    let sock = args.get_item(1)?;
    match on_fd(&sock, fd) {
        Ok(true) => Ok(Some(sock)),
        _ => Ok(None),
    }
}

/// Whether `sock.fileno()` is `fd`.
fn on_fd(sock: &Bound<'_, PyAny>, fd: RawFd) -> PyResult<bool> {
    let n: i64 = sock
        .call_method0(pyo3::intern!(sock.py(), "fileno"))?
        .extract()?;
    Ok(n == i64::from(fd))
}

/// A weak reference to `sock` (what a parked entry keeps).
///
/// # Errors
///
/// `TypeError` if the object cannot be weakly referenced.
pub(crate) fn weak(sock: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    Ok(lookups(sock.py())?
        .weakref
        .bind(sock.py())
        .call1((sock,))?
        .unbind())
}

/// Whether the parked entry's weak reference `owner` is `weak`, the one to
/// the socket of the call now. `weakref.ref` gives back the existing
/// reference to a live object (CPython keeps one without a callback per
/// object), and the entry holds its own, so two references are the same
/// object only if they are to the same socket, still alive (and so, see
/// the module, the file registered is still that socket's). Anything else
/// answers false: a MOD, never a wrong reuse.
pub(crate) fn same_owner(owner: Option<&Py<PyAny>>, weak: &Py<PyAny>) -> bool {
    owner.is_some_and(|o| o.is(weak))
}
