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

use ioready::{Interest, Token, Trigger};
use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::callargs::CallArgs;
use super::core::LoopCore;
use super::fds::{interest, FdEntry, EVENT_READ};
use super::handle::Handle;
use super::sockwatch;

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

    /// Sets the kernel registration of `fd`: MOD to `interest`/`trigger`;
    /// when `readd` and the kernel has none (the file it had was closed,
    /// the number reused: `ENOENT`), ADD.
    fn set_kernel(
        &self,
        py: Python<'_>,
        fd: RawFd,
        interest: Interest,
        trigger: Trigger,
        readd: bool,
    ) -> PyResult<()> {
        self.os_call(py, |r| {
            match r.reregister_with(borrowed(fd), Token(fd as usize), interest, trigger) {
                Err(e) if readd && e.kind() == io::ErrorKind::NotFound => {
                    r.register_with(borrowed(fd), Token(fd as usize), interest, trigger)
                }
                other => other,
            }
        })
    }

    /// Registers `fd` edge-triggered for reading and writing: false if the
    /// backend has no edge trigger (select, poll).
    fn register_edge(&self, py: Python<'_>, fd: RawFd) -> PyResult<bool> {
        let registry = self.registry.get(py)?;
        let r = registry.as_ref().ok_or_else(super::core::closed_error)?;
        match r.register_with(
            borrowed(fd),
            Token(fd as usize),
            Interest::BOTH,
            Trigger::Edge,
        ) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// `_add_reader(fileobj, callback, *args)` (`event` `EVENT_READ`) or
    /// `_add_writer` (`EVENT_WRITE`): the new handle. asyncio's sock_*
    /// callbacks get a registration kept between calls (`sockwatch`).
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
        // asyncio's sock_* callback, with a weak reference to its socket.
        let sock = if this.fds.get(py)?.edge_refused {
            None
        } else {
            sockwatch::sock_owner(slf, callback, args, fd)?.and_then(|s| sockwatch::weak(&s).ok())
        };
        let mut replaced = None;
        let (old, failed) = {
            let mut fds = this.fds.get_mut(py)?;
            match fds.get_mut(fd) {
                Some(entry) => {
                    let mask = entry.mask | event;
                    let result = if entry.parked() {
                        match &sock {
                            Some(w) if sockwatch::same_owner(entry.owner.as_ref(), w) => Ok(()),
                            Some(w) => this
                                .set_kernel(py, fd, Interest::BOTH, Trigger::Edge, true)
                                .map(|()| entry.owner = Some(w.clone_ref(py))),
                            None => this
                                .set_kernel(py, fd, interest(mask), Trigger::Level, true)
                                .map(|()| {
                                    entry.edge = false;
                                    entry.owner = None;
                                }),
                        }
                        .map(|()| {
                            // Dropped once the table is let go of.
                            replaced = Some(std::mem::replace(
                                &mut entry.fileobj,
                                fileobj.clone().unbind(),
                            ));
                        })
                    } else if entry.edge && sock.is_none() {
                        // A callback of the user's: asyncio's level trigger.
                        this.set_kernel(py, fd, interest(mask), Trigger::Level, false)
                            .map(|()| {
                                entry.edge = false;
                                entry.owner = None;
                            })
                    } else if !entry.edge && mask != entry.mask {
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
                    let owner = sock.as_ref().map(|w| w.clone_ref(py));
                    let mut edge = false;
                    if owner.is_some() {
                        edge = this.register_edge(py, fd)?;
                        fds.edge_refused = !edge;
                    }
                    if !edge {
                        this.os_call(py, |r| {
                            r.register(borrowed(fd), Token(fd as usize), interest(event))
                        })?;
                    }
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
                        edge,
                        owner: owner.filter(|_| edge),
                    };
                    fds.insert(fd, entry);
                    (None, None)
                }
            }
        };
        drop(replaced);
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
            let Some(entry) = fds.get_mut(fd).filter(|e| !e.parked()) else {
                return Ok(false);
            };
            let mask = entry.mask & !event;
            let slot = if event == EVENT_READ {
                &mut entry.reader
            } else {
                &mut entry.writer
            };
            let old = slot.take();
            if entry.edge {
                // Reading and writing stay registered, edge-triggered: at 0
                // the entry is parked for the socket's next sock_* call.
                entry.mask = mask;
                (old, None, None)
            } else if mask == 0 {
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

    /// A parked entry reported ready (nothing waits on it): its kernel
    /// registration goes (errors ignored: the descriptor may be closed or
    /// reused), and the entry.
    pub(crate) fn drop_parked(&self, py: Python<'_>, fd: RawFd) -> PyResult<()> {
        let dropped = {
            let mut fds = self.fds.get_mut(py)?;
            if !fds.get_mut(fd).is_some_and(|e| e.parked()) {
                return Ok(());
            }
            let _ = self.os_call(py, |r| r.deregister_raw(fd));
            fds.remove(fd)
        };
        drop(dropped);
        Ok(())
    }
}
