//! `select.epoll`: the library's [`ioready::Epoll`], shared by the Python
//! object and the waits in progress, with an event buffer kept between
//! `poll()` calls.

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, TryLockError};

use ioready::{EpollEvents, EpollFlags};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::ffi::build::pair_list;
use crate::select::args::{CInt, EpollMask, FdArg};
use crate::select::errors::os_error;
use crate::select::pytime::{ceil_ms, div_ceiling, ms_wait, NS_PER_SEC};
use crate::select::wait::{lock, wait_with_signals};

/// The module's `EPOLL*` constants (`EPOLL_CLOEXEC` apart: it is not an
/// event flag).
pub(crate) const CONSTANTS: [(&str, EpollFlags); 14] = [
    ("EPOLLIN", EpollFlags::IN),
    ("EPOLLOUT", EpollFlags::OUT),
    ("EPOLLPRI", EpollFlags::PRI),
    ("EPOLLERR", EpollFlags::ERR),
    ("EPOLLHUP", EpollFlags::HUP),
    ("EPOLLET", EpollFlags::ET),
    ("EPOLLONESHOT", EpollFlags::ONESHOT),
    ("EPOLLEXCLUSIVE", EpollFlags::EXCLUSIVE),
    ("EPOLLRDHUP", EpollFlags::RDHUP),
    ("EPOLLRDNORM", EpollFlags::RDNORM),
    ("EPOLLRDBAND", EpollFlags::RDBAND),
    ("EPOLLWRNORM", EpollFlags::WRNORM),
    ("EPOLLWRBAND", EpollFlags::WRBAND),
    ("EPOLLMSG", EpollFlags::MSG),
];

const DEFAULT_EPOLL_MASK: u32 =
    EpollFlags::IN.bits() | EpollFlags::PRI.bits() | EpollFlags::OUT.bits();

/// CPython's `FD_SETSIZE - 1`: the default `sizehint` and `maxevents`.
const DEFAULT_MAXEVENTS: usize = 1023;

/// An epoll instance shared by its Python object and the waits in progress,
/// so that `close()` during another thread's `poll()` does not pull the
/// instance from under it: the descriptor is closed when both are done.
struct EpollHandle(ManuallyDrop<ioready::Epoll>);

impl std::ops::Deref for EpollHandle {
    type Target = ioready::Epoll;
    fn deref(&self) -> &ioready::Epoll {
        &self.0
    }
}

impl Drop for EpollHandle {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is not used again.
        let ep = unsafe { ManuallyDrop::take(&mut self.0) };
        let fd = ep.into_raw_fd();
        // Closed by hand rather than through `OwnedFd`: a descriptor adopted
        // with `epoll.fromfd` may already have been closed through another
        // epoll object sharing its number (CPython allows this and its
        // test_fromfd does it); close(2) then answers EBADF, ignored, as
        // CPython ignores it.
        // SAFETY: `fd` came from the `Epoll` we owned; nothing uses it after.
        unsafe { libc::close(fd) };
    }
}

/// select.epoll(sizehint=-1, flags=0)
///
/// Returns an epolling object
///
/// sizehint must be a positive integer or -1 for the default size. The
/// sizehint is used to optimize internal data structures. It doesn't limit
/// the maximum number of monitored events.
#[pyclass(module = "select", name = "epoll", frozen)]
pub(crate) struct EpollObject {
    /// `None` once closed.
    handle: Mutex<Option<Arc<EpollHandle>>>,
    /// The event buffer, reused by `poll()` (a concurrent `poll()` from
    /// another thread uses its own).
    events: Mutex<EpollEvents>,
}

#[cold]
fn closed_epoll() -> PyErr {
    PyValueError::new_err("I/O operation on closed epoll object")
}

impl EpollObject {
    fn wrap(ep: Option<ioready::Epoll>) -> Self {
        EpollObject {
            handle: Mutex::new(ep.map(|e| Arc::new(EpollHandle(ManuallyDrop::new(e))))),
            events: Mutex::new(EpollEvents::with_capacity(1)),
        }
    }

    /// Runs `op` on the open instance; `ValueError` once closed.
    fn with<T>(&self, op: impl FnOnce(&ioready::Epoll) -> io::Result<T>) -> PyResult<T> {
        match &*lock(&self.handle) {
            Some(h) => op(h).map_err(os_error),
            None => Err(closed_epoll()),
        }
    }
}

#[pymethods]
impl EpollObject {
    #[new]
    #[pyo3(signature = (sizehint = CInt(-1), flags = CInt(0)), text_signature = "(sizehint=-1, flags=0)")]
    fn __new__(sizehint: CInt, flags: CInt) -> PyResult<Self> {
        let (sizehint, flags) = (sizehint.0, flags.0);
        if sizehint != -1 && sizehint <= 0 {
            return Err(PyValueError::new_err("negative sizehint"));
        }
        if flags != 0 && flags != libc::EPOLL_CLOEXEC {
            return Err(PyOSError::new_err("invalid flags"));
        }
        let ep = ioready::Epoll::new().map_err(os_error)?;
        Ok(EpollObject::wrap(Some(ep)))
    }

    /// fromfd($type, fd, /)
    /// --
    ///
    /// Create an epoll object from a given control fd.
    ///
    /// The object takes the descriptor over: it is closed with the object.
    #[classmethod]
    #[pyo3(signature = (fd, /))]
    fn fromfd<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        fd: CInt,
    ) -> PyResult<Bound<'py, EpollObject>> {
        let ep = match fd.0 {
            // CPython creates a new instance for -1 ...
            -1 => Some(ioready::Epoll::new().map_err(os_error)?),
            // ... and fails on other negative numbers (with whatever errno
            // was: 0, "Error", in practice).
            fd if fd < 0 => return Err(PyOSError::new_err((0, "Error"))),
            // SAFETY: `fromfd` transfers ownership of the descriptor to the
            // new object, which closes it (see `EpollHandle::drop`); a
            // number that is not an epoll descriptor only makes later calls
            // fail with EBADF/EINVAL.
            fd => Some(ioready::Epoll::from_owned_fd(unsafe {
                OwnedFd::from_raw_fd(fd)
            })),
        };
        Bound::new(cls.py(), EpollObject::wrap(ep))
    }

    /// close($self, /)
    /// --
    ///
    /// Close the epoll control file descriptor.
    ///
    /// Further operations on the epoll object will raise an exception.
    fn close(&self) {
        let handle = lock(&self.handle).take();
        drop(handle);
    }

    /// True if the epoll handler is closed
    #[getter]
    fn closed(&self) -> bool {
        lock(&self.handle).is_none()
    }

    /// fileno($self, /)
    /// --
    ///
    /// Return the epoll control file descriptor.
    fn fileno(&self) -> PyResult<RawFd> {
        self.with(|ep| Ok(ep.as_raw_fd()))
    }

    /// register($self, /, fd, eventmask=select.EPOLLIN | select.EPOLLPRI | select.EPOLLOUT)
    /// --
    ///
    /// Registers a new fd or raises an OSError if the fd is already registered.
    ///
    ///   fd
    ///     the target file descriptor of the operation
    ///   eventmask
    ///     a bit set composed of the various EPOLL constants
    ///
    /// The epoll interface supports all file descriptors that support poll.
    #[pyo3(signature = (fd, eventmask = EpollMask(DEFAULT_EPOLL_MASK)))]
    fn register(&self, fd: FdArg, eventmask: EpollMask) -> PyResult<()> {
        let flags = EpollFlags::from_bits(eventmask.0);
        // The event data is the descriptor number, as in CPython.
        self.with(|ep| ep.add_raw(fd.0, u64::from(fd.0 as u32), flags))
    }

    /// modify($self, /, fd, eventmask)
    /// --
    ///
    /// Modify event mask for a registered file descriptor.
    ///
    ///   fd
    ///     the target file descriptor of the operation
    ///   eventmask
    ///     a bit set composed of the various EPOLL constants
    #[pyo3(signature = (fd, eventmask))]
    fn modify(&self, fd: FdArg, eventmask: EpollMask) -> PyResult<()> {
        let flags = EpollFlags::from_bits(eventmask.0);
        self.with(|ep| ep.modify_raw(fd.0, u64::from(fd.0 as u32), flags))
    }

    /// unregister($self, /, fd)
    /// --
    ///
    /// Remove a registered file descriptor from the epoll object.
    ///
    ///   fd
    ///     the target file descriptor of the operation
    #[pyo3(signature = (fd))]
    fn unregister(&self, fd: FdArg) -> PyResult<()> {
        self.with(|ep| ep.delete_raw(fd.0))
    }

    /// poll($self, /, timeout=None, maxevents=-1)
    /// --
    ///
    /// Wait for events on the epoll file descriptor.
    ///
    ///   timeout
    ///     the maximum time to wait in seconds (as float);
    ///     a timeout of None or -1 makes poll wait indefinitely
    ///   maxevents
    ///     the maximum number of events returned; -1 means no limit
    ///
    /// Returns a list containing any descriptors that have events to report,
    /// as a list of (fd, events) 2-tuples.
    #[pyo3(
        signature = (timeout = None, maxevents = CInt(-1)),
        text_signature = "($self, /, timeout=None, maxevents=-1)"
    )]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
        maxevents: CInt,
    ) -> PyResult<Bound<'py, PyList>> {
        let maxevents = maxevents.0;
        let handle = lock(&self.handle).clone().ok_or_else(closed_epoll)?;
        let (first, deadline) = match timeout {
            None => (None, None),
            Some(t) => ms_wait(t, NS_PER_SEC, div_ceiling)?,
        };
        let max = match maxevents {
            -1 => DEFAULT_MAXEVENTS,
            m if m < 1 => {
                return Err(PyValueError::new_err(format!(
                    "maxevents must be greater than 0, got {m}"
                )));
            }
            m => m as usize,
        };
        // Our buffer, or a private one if another thread is polling.
        let mut shared = match self.events.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let mut private;
        let events: &mut EpollEvents = match shared.as_deref_mut() {
            Some(buf) => buf,
            None => {
                private = EpollEvents::with_capacity(max);
                &mut private
            }
        };
        // One wait returns at most the buffer's capacity: keep it exactly
        // `maxevents` (edge-triggered events must not be fetched and lost).
        if events.capacity() != max {
            *events = EpollEvents::with_capacity(max);
        }
        let ep: &ioready::Epoll = &handle;
        let waited = wait_with_signals(py, first, deadline, ceil_ms, |t| ep.wait_once(events, t))?;
        if waited.is_none() {
            return Ok(PyList::empty(py));
        }
        pair_list(
            py,
            events
                .iter()
                .map(|(data, flags)| (i64::from(data as u32 as i32), i64::from(flags.bits()))),
        )
    }

    /// __enter__($self, /)
    /// --
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        if lock(&slf.get().handle).is_none() {
            return Err(closed_epoll());
        }
        Ok(slf.clone())
    }

    /// __exit__($self, exc_type=None, exc_value=None, exc_tb=None, /)
    /// --
    #[pyo3(signature = (_exc_type = None, _exc_value = None, _exc_tb = None, /))]
    fn __exit__<'py>(
        slf: &Bound<'py, Self>,
        _exc_type: Option<&Bound<'py, PyAny>>,
        _exc_value: Option<&Bound<'py, PyAny>>,
        _exc_tb: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.call_method0("close")
    }
}
