//! `select.poll()` and its objects: CPython's registration dict (`masks`)
//! mirrored into the library's [`ioready::Poll`] (`poll`), which the raw
//! `poll.poll()` waits on.

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, TryLockError};

use indexmap::IndexMap;
use ioready::{Poll, PollFlags};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::Borrowed;

use crate::ffi::build::pair_list;
use crate::ffi::call::{Args, MethodDef, RawFunction};
use crate::ffi::gil::GilReleased;
use crate::select::args::{FdArg, PollMask};
use crate::select::errors::{arg_count_error, errno_error, os_error};
use crate::select::pytime::{ceil_ms, div_up, ms_wait, NS_PER_MS};
use crate::select::wait::{after_eintr, lock};

/// The module's `POLL*` constants.
pub(crate) const CONSTANTS: [(&str, PollFlags); 12] = [
    ("POLLIN", PollFlags::IN),
    ("POLLPRI", PollFlags::PRI),
    ("POLLOUT", PollFlags::OUT),
    ("POLLERR", PollFlags::ERR),
    ("POLLHUP", PollFlags::HUP),
    ("POLLNVAL", PollFlags::NVAL),
    ("POLLRDNORM", PollFlags::RDNORM),
    ("POLLRDBAND", PollFlags::RDBAND),
    ("POLLWRNORM", PollFlags::WRNORM),
    ("POLLWRBAND", PollFlags::WRBAND),
    ("POLLMSG", PollFlags::MSG),
    ("POLLRDHUP", PollFlags::RDHUP),
];

const DEFAULT_POLL_MASK: u16 = PollFlags::IN.bits() | PollFlags::PRI.bits() | PollFlags::OUT.bits();

/// poll($module, /)
/// --
///
/// Returns a polling object.
///
/// This object supports registering and unregistering file descriptors, and then
/// polling them for I/O events.
#[pyfunction]
pub(crate) fn poll(py: Python<'_>) -> PyResult<Bound<'_, PollObject>> {
    Bound::new(py, PollObject::new_empty())
}

/// Returns a polling object, that supports registering and
/// unregistering file descriptors, and then polling them for I/O events.
#[pyclass(module = "select", name = "poll", frozen)]
pub(crate) struct PollObject {
    /// What `register`/`modify`/`unregister` change: CPython's dict of
    /// descriptor to mask, in registration order.
    masks: Mutex<IndexMap<RawFd, u16>>,
    /// The library's registry that `poll()` waits on, kept equal to
    /// `masks`; locked for the whole of a `poll()` call, which is how a
    /// second, concurrent `poll()` is detected.
    poll: Mutex<Poll>,
    /// `masks` changed while `poll` was in use: rebuild it before the next
    /// wait (CPython's `ufd_uptodate == 0`).
    stale: AtomicBool,
}

impl PollObject {
    fn new_empty() -> Self {
        PollObject {
            masks: Mutex::new(IndexMap::new()),
            poll: Mutex::new(Poll::new()),
            stale: AtomicBool::new(false),
        }
    }

    /// Applies a registration change to `poll` too, or marks it stale if a
    /// `poll()` is using it (another thread waits on the old set).
    fn mirror(&self, op: impl FnOnce(&mut Poll) -> io::Result<()>) {
        match self.poll.try_lock() {
            Ok(mut poll) if !self.stale.load(Ordering::Relaxed) => {
                if op(&mut poll).is_err() {
                    self.stale.store(true, Ordering::Relaxed);
                }
            }
            _ => self.stale.store(true, Ordering::Relaxed),
        }
    }
}

#[pymethods]
impl PollObject {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __new__(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "cannot create 'select.poll' instances",
        ))
    }

    /// register($self, fd, eventmask=select.POLLIN | select.POLLPRI | select.POLLOUT, /)
    /// --
    ///
    /// Register a file descriptor with the polling object.
    ///
    ///   fd
    ///     either an integer, or an object with a fileno() method returning an int
    ///   eventmask
    ///     an optional bitmask describing the type of events to check for
    #[pyo3(signature = (fd, eventmask = PollMask(DEFAULT_POLL_MASK), /))]
    fn register(&self, fd: FdArg, eventmask: PollMask) -> PyResult<()> {
        let flags = PollFlags::from_bits(eventmask.0);
        lock(&self.masks).insert(fd.0, eventmask.0);
        self.mirror(|p| p.register_raw(fd.0, flags));
        Ok(())
    }

    /// modify($self, fd, eventmask, /)
    /// --
    ///
    /// Modify an already registered file descriptor.
    ///
    ///   fd
    ///     either an integer, or an object with a fileno() method returning
    ///     an int
    ///   eventmask
    ///     a bitmask describing the type of events to check for
    #[pyo3(signature = (fd, eventmask, /))]
    fn modify(&self, fd: FdArg, eventmask: PollMask) -> PyResult<()> {
        match lock(&self.masks).get_mut(&fd.0) {
            Some(mask) => *mask = eventmask.0,
            None => return Err(errno_error(libc::ENOENT)),
        }
        let flags = PollFlags::from_bits(eventmask.0);
        self.mirror(|p| p.modify(fd.0, flags));
        Ok(())
    }

    /// unregister($self, fd, /)
    /// --
    ///
    /// Remove a file descriptor being tracked by the polling object.
    #[pyo3(signature = (fd, /))]
    fn unregister(&self, fd: FdArg) -> PyResult<()> {
        if lock(&self.masks).shift_remove(&fd.0).is_none() {
            return Err(PyKeyError::new_err(fd.0));
        }
        self.mirror(|p| p.unregister(fd.0));
        Ok(())
    }
}

/// `poll.poll(timeout=None, /)`, a raw entry point, installed in the class
/// as a method descriptor (see the module init).
pub(crate) struct PollPoll;

/// Its definition.
pub(crate) static POLL_POLL_DEF: MethodDef = MethodDef::of::<PollPoll>();

impl RawFunction for PollPoll {
    const NAME: &'static CStr = c"poll";
    const DOC: &'static CStr = c"poll($self, timeout=None, /)
--

Polls the set of registered file descriptors.

  timeout
    The maximum time to wait in milliseconds, or else None (or a negative
    value) to wait indefinitely.

Returns a list containing any descriptors that have events or errors to
report, as a list of (fd, event) 2-tuples.";

    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nargs = args.len();
        if nargs > 1 {
            return Err(arg_count_error("poll", nargs, 0, 1));
        }
        // SAFETY: `slf` is a `select.poll` instance: the method descriptor
        // made with `PyDescr_NewMethod` for `PollObject`'s type checks it
        // (`descr_check`) before calling, and the class cannot be
        // subclassed, so the unchecked downcast is exact.
        let this = unsafe { slf.downcast_unchecked::<PollObject>() }.get();
        let timeout = if nargs == 1 { Some(args.get(0)) } else { None };
        this.poll(py, timeout.as_deref().filter(|t| !t.is_none()))
            .map(Bound::into_any)
    }
}

impl PollObject {
    /// `poll.poll()`; `timeout` is `None` for an absent or `None` timeout.
    fn poll<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (mut timeout, deadline) = match timeout {
            None => (None, None),
            Some(t) => ms_wait(t, NS_PER_MS, div_up)?,
        };
        let mut poll = match self.poll.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(PyRuntimeError::new_err("concurrent poll() invocation"));
            }
        };
        if self.stale.load(Ordering::Relaxed) {
            self.stale.store(false, Ordering::Relaxed);
            let mut fresh = Poll::new();
            for (&fd, &mask) in lock(&self.masks).iter() {
                fresh
                    .register_raw(fd, PollFlags::from_bits(mask))
                    .map_err(os_error)?;
            }
            *poll = fresh;
        }
        let poll: &mut Poll = &mut poll;
        // `wait_with_signals` by hand: the result borrows `poll`, and is
        // turned into the list directly (no copy of the pairs).
        let ready = loop {
            let result = {
                // SAFETY: only the syscall runs until the guard drops and
                // the GIL is back.
                let _released = unsafe { GilReleased::new(py) };
                poll.poll_once(timeout)
            };
            match result {
                Ok(ready) => break ready,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    match after_eintr(py, deadline.as_ref(), ceil_ms)? {
                        Some(next) => timeout = next.or(timeout),
                        None => return Ok(PyList::empty(py)),
                    }
                }
                Err(e) => return Err(os_error(e)),
            }
        };
        pair_list(
            py,
            ready.map(|(fd, ev)| (i64::from(fd), i64::from(ev.bits()))),
        )
    }
}
