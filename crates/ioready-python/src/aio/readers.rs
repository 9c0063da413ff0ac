//! `_add_reader`/`_remove_reader`/`_add_writer`/`_remove_writer` (asyncio's
//! `BaseSelectorEventLoop` methods of those names, which `add_reader` and
//! every selector transport call) on the loop's registration table and the
//! library's `Registry`, with the semantics of asyncio over
//! `selectors.EpollSelector`: one registration per descriptor, its events
//! the union of reader and writer, a replaced handle cancelled, errors of
//! the kernel raised as `OSError` (and the registration forgotten), the
//! removal of a descriptor closed meanwhile silent.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use ioready::Token;
use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::callargs::CallArgs;
use super::core::LoopCore;
use super::fds::{interest, FdEntry, EVENT_READ};
use super::handle::Handle;

/// selectors' `_fileobj_to_fd`: an int, or `int(obj.fileno())`.
///
/// # Errors
///
/// `ValueError` for an object without a usable `fileno()` or a negative
/// descriptor (selectors' messages).
fn fileobj_to_fd(obj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    let py = obj.py();
    let number = if crate::ffi::convert::is_int(obj) {
        obj.clone()
    } else {
        let as_int = obj
            .call_method0(pyo3::intern!(py, "fileno"))
            .and_then(|n| n.call_method0(pyo3::intern!(py, "__index__")));
        match as_int {
            Ok(n) => n,
            Err(e)
                if e.is_instance_of::<PyAttributeError>(py)
                    || e.is_instance_of::<PyTypeError>(py)
                    || e.is_instance_of::<PyValueError>(py) =>
            {
                return Err(PyValueError::new_err(format!(
                    "Invalid file object: {}",
                    obj.repr()?
                )));
            }
            Err(e) => return Err(e),
        }
    };
    let fd: i64 = number.extract()?;
    if fd < 0 {
        return Err(PyValueError::new_err(format!(
            "Invalid file descriptor: {fd}"
        )));
    }
    RawFd::try_from(fd).map_err(|_| PyValueError::new_err(format!("Invalid file descriptor: {fd}")))
}

/// A descriptor number as the library's registration functions take it.
fn borrowed(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: `fd >= 0` (checked by `fileobj_to_fd`). The number is only
    // handed to `epoll_ctl` for the duration of one call, which reports
    // `EBADF` if it is not open; nothing reads, writes or closes through it.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl LoopCore {
    /// selectors' `_fileobj_lookup`: the descriptor of `fileobj`, or, if it
    /// has none any more, the one it was registered with.
    ///
    /// # Errors
    ///
    /// `ValueError` as [`fileobj_to_fd`] when it is not registered either.
    pub(crate) fn lookup_fd(&self, fileobj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
        let py = fileobj.py();
        match fileobj_to_fd(fileobj) {
            Err(e) if e.is_instance_of::<PyValueError>(py) => {
                match self.fds.get(py)?.find_object(fileobj) {
                    Some(fd) => Ok(fd),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    fn os_call(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&ioready::Registry) -> io::Result<()>,
    ) -> PyResult<()> {
        let registry = self.registry.get(py)?;
        match registry.as_ref() {
            Some(r) => call(r).map_err(PyErr::from),
            None => Err(super::core::closed_error()),
        }
    }

    /// `_add_reader(fileobj, callback, *args)` (`event` `EVENT_READ`) or
    /// `_add_writer` (`EVENT_WRITE`): the new handle.
    ///
    /// # Errors
    ///
    /// `RuntimeError` if the loop is closed; `ValueError` for a bad file
    /// object; the kernel's `OSError`.
    pub(crate) fn add_watch<'py>(
        slf: &Bound<'py, LoopCore>,
        fileobj: &Bound<'py, PyAny>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        event: u8,
    ) -> PyResult<Bound<'py, Handle>> {
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        let handle = Handle::state(
            py,
            slf.as_any(),
            callback,
            CallArgs::from_tuple(args),
            None,
            this.debug(),
        )?;
        let handle = Bound::new(py, handle)?;
        let fd = this.lookup_fd(fileobj)?;
        let (old, failed) = {
            let mut fds = this.fds.get_mut(py)?;
            match fds.get_mut(fd) {
                Some(entry) => {
                    let mask = entry.mask | event;
                    let result = if mask != entry.mask {
                        this.os_call(py, |r| {
                            r.reregister(borrowed(fd), Token(fd as usize), interest(mask))
                        })
                    } else {
                        Ok(())
                    };
                    match result {
                        Ok(()) => {
                            entry.mask = mask;
                            let slot = if event == EVENT_READ {
                                &mut entry.reader
                            } else {
                                &mut entry.writer
                            };
                            (slot.replace(handle.clone().unbind()), None)
                        }
                        // selectors forgets the registration when modify fails.
                        Err(e) => (None, Some((e, fds.remove(fd)))),
                    }
                }
                None => {
                    this.os_call(py, |r| {
                        r.register(borrowed(fd), Token(fd as usize), interest(event))
                    })?;
                    let (reader, writer) = if event == EVENT_READ {
                        (Some(handle.clone().unbind()), None)
                    } else {
                        (None, Some(handle.clone().unbind()))
                    };
                    let entry = FdEntry {
                        fileobj: fileobj.clone().unbind(),
                        mask: event,
                        reader,
                        writer,
                    };
                    fds.insert(fd, entry);
                    (None, None)
                }
            }
        };
        if let Some((err, forgotten)) = failed {
            drop(forgotten);
            return Err(err);
        }
        if let Some(old) = old {
            Handle::cancel_handle(old.bind(py))?;
        }
        Ok(handle)
    }

    /// `_remove_reader(fileobj)` / `_remove_writer`: whether a handle was
    /// removed (and cancelled).
    ///
    /// # Errors
    ///
    /// `ValueError` for a bad file object; the kernel's `OSError` when the
    /// descriptor stays watched for the other event and cannot be changed.
    pub(crate) fn remove_watch(&self, fileobj: &Bound<'_, PyAny>, event: u8) -> PyResult<bool> {
        let py = fileobj.py();
        if self.is_closed() {
            return Ok(false);
        }
        let fd = self.lookup_fd(fileobj)?;
        self.remove_fd_event(py, fd, event)
    }

    /// [`remove_watch`](Self::remove_watch) by descriptor (also the loop's
    /// own clean-up of a cancelled handle reported ready).
    pub(crate) fn remove_fd_event(&self, py: Python<'_>, fd: RawFd, event: u8) -> PyResult<bool> {
        let (old, dropped, failed) = {
            let mut fds = self.fds.get_mut(py)?;
            let Some(entry) = fds.get_mut(fd) else {
                return Ok(false);
            };
            let mask = entry.mask & !event;
            let slot = if event == EVENT_READ {
                &mut entry.reader
            } else {
                &mut entry.writer
            };
            let old = slot.take();
            if mask == 0 {
                let dropped = fds.remove(fd);
                // As selectors: the descriptor may be closed already.
                let _ = self.os_call(py, |r| r.deregister_raw(fd));
                (old, dropped, None)
            } else {
                match self.os_call(py, |r| {
                    r.reregister(borrowed(fd), Token(fd as usize), interest(mask))
                }) {
                    Ok(()) => {
                        entry.mask = mask;
                        (old, None, None)
                    }
                    Err(e) => (old, fds.remove(fd), Some(e)),
                }
            }
        };
        drop(dropped);
        if let Some(err) = failed {
            return Err(err);
        }
        match old {
            Some(old) => {
                Handle::cancel_handle(old.bind(py))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
