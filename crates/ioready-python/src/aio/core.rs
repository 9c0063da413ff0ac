//! `LoopCore`: the native half of `ioready.EventLoop`.
//!
//! The Python class is `class EventLoop(LoopCore, asyncio's unix selector
//! loop)`: through the method resolution order, every method defined here
//! replaces asyncio's Python one (scheduling, the run-once iteration, the
//! reader/writer registrations, `time`, and the `_stopping`/`_closed`/
//! `_debug` flags as native attributes), while asyncio's own Python keeps
//! the cold paths it does right (run_forever's bookkeeping, getaddrinfo,
//! create_connection's logic, TLS, subprocesses, signals, executors), all
//! calling back into these. The object asyncio's Python knows as
//! `self._selector` is a [`SelectorView`](super::view::SelectorView) on
//! this core's registration table.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use ioready::{Events, Registry, Selector, Token, Waker};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::callargs::CallArgs;
use super::clock;
use super::fds::{FdTable, EVENT_READ, EVENT_WRITE};
use super::gil_cell::GilCell;
use super::handle::{Handle, TimerHandle};
use super::timers::Timers;

/// The token of the loop's waker (descriptors never reach it).
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// How many events one wait takes at most.
const EVENTS_CAPACITY: usize = 1024;

/// The selector and its event buffer, borrowed by the wait.
pub(crate) struct Poller {
    pub(crate) selector: Selector,
    pub(crate) events: Events,
}

/// `RuntimeError('Event loop is closed')`, asyncio's.
pub(crate) fn closed_error() -> PyErr {
    PyRuntimeError::new_err("Event loop is closed")
}

/// The native state of an `ioready.EventLoop`.
#[pyclass(module = "ioready._ioready", name = "LoopCore", subclass, frozen)]
pub(crate) struct LoopCore {
    /// Handles to run (native `Handle`s, or any object with `_run` and
    /// `_cancelled`, as asyncio's own `Handle`).
    pub(crate) ready: GilCell<VecDeque<Py<PyAny>>>,
    pub(crate) timers: GilCell<Timers>,
    pub(crate) fds: GilCell<FdTable>,
    /// `None` once closed.
    pub(crate) poller: GilCell<Option<Poller>>,
    pub(crate) registry: GilCell<Option<Registry>>,
    pub(crate) waker: GilCell<Option<Waker>>,
    stopping: AtomicBool,
    closed: AtomicBool,
    debug: AtomicBool,
    /// In a blocking wait: `call_soon_threadsafe` must wake it.
    pub(crate) sleeping: AtomicBool,
    /// The stream transports' receive buffer (one receive at a time per
    /// loop), sized on first use.
    pub(crate) read_buf: GilCell<Vec<u8>>,
    /// The io_uring engine of the transports, when the loop was made with
    /// it (`None`: the readiness transports; see `uring`).
    pub(crate) uring: GilCell<Option<super::uring::UringEngine>>,
    /// The callbacks of a turn are running: the readiness transports keep
    /// their writes for its end (see `stream::write`).
    pub(crate) in_turn: AtomicBool,
    /// The readiness transports with writes kept for the end of the turn.
    pub(crate) flush: GilCell<Vec<Py<super::stream::StreamTransport>>>,
}

impl LoopCore {
    pub(crate) fn debug(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// asyncio's `_check_closed`.
    pub(crate) fn check_closed(&self) -> PyResult<()> {
        if self.is_closed() {
            return Err(closed_error());
        }
        Ok(())
    }

    /// The loop's time as asyncio's own code would read it, `self.time()`:
    /// the clock, unless an instance attribute replaces the method (tests
    /// patch `loop.time`, as aiohttp's do).
    ///
    /// # Errors
    ///
    /// What a replacement `time` raises, or a non-float result.
    pub(crate) fn now(slf: &Bound<'_, Self>) -> PyResult<f64> {
        let py = slf.py();
        if let Some(dict) = crate::ffi::attrs::instance_dict(slf.as_any()) {
            if let Some(time) = dict.get_item(pyo3::intern!(py, "time"))? {
                return time.call0()?.extract();
            }
        }
        Ok(clock::monotonic())
    }

    /// Wakes the loop's wait if it is blocked in one (`call_soon_threadsafe`):
    /// the first caller only (the flag is cleared by the wake), so a burst
    /// of calls while the loop sleeps makes one system call, not one each.
    pub(crate) fn wake_if_sleeping(&self, py: Python<'_>) -> PyResult<()> {
        if self.sleeping.swap(false, Ordering::AcqRel) {
            if let Some(waker) = self.waker.get(py)?.as_ref() {
                waker.wake()?;
            }
        }
        Ok(())
    }

    /// A scheduled timer was cancelled (asyncio's `_timer_handle_cancelled`).
    pub(crate) fn timer_cancelled(&self, py: Python<'_>) -> PyResult<()> {
        self.timers.get_mut(py)?.note_cancelled();
        Ok(())
    }

    /// The debug-mode checks of asyncio's scheduling methods.
    pub(crate) fn debug_checks(
        slf: &Bound<'_, Self>,
        callback: &Bound<'_, PyAny>,
        method: &str,
        thread: bool,
    ) -> PyResult<()> {
        if thread {
            slf.call_method0("_check_thread")?;
        }
        slf.call_method1("_check_callback", (callback, method))?;
        Ok(())
    }

    /// `call_at` once the arguments are parsed.
    pub(crate) fn schedule_at<'py>(
        slf: &Bound<'py, Self>,
        when: f64,
        when_obj: Option<&Bound<'py, PyAny>>,
        callback: &Bound<'py, PyAny>,
        args: CallArgs,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        let debug = this.debug();
        if debug {
            LoopCore::debug_checks(slf, callback, "call_at", true)?;
        }
        let handle = Handle::state(py, slf.as_any(), callback, args, context, debug)?;
        handle.set_scheduled(py, true)?;
        let timer = TimerHandle::create(py, when, when_obj, handle)?;
        this.timers.get_mut(py)?.push(when, timer.clone().unbind());
        Ok(timer)
    }

    /// A new handle queued (no checks).
    pub(crate) fn push_soon<'py>(
        slf: &Bound<'py, Self>,
        callback: &Bound<'py, PyAny>,
        args: CallArgs,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Handle>> {
        let py = slf.py();
        let this = slf.get();
        let handle = Handle::state(py, slf.as_any(), callback, args, context, this.debug())?;
        let handle = Bound::new(py, handle)?;
        this.ready
            .get_mut(py)?
            .push_back(handle.clone().into_any().unbind());
        Ok(handle)
    }

    /// Empties the loop for `close()`: every queue and registration goes,
    /// and the selector and waker are closed.
    pub(crate) fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let ready = std::mem::take(&mut *self.ready.get_mut(py)?);
        let timers = self.timers.get_mut(py)?.take_all();
        let fds = self.fds.get_mut(py)?.take_all();
        let uring = self.close_uring(py)?;
        let flush = std::mem::take(&mut *self.flush.get_mut(py)?);
        let poller = self.poller.get_mut(py)?.take();
        let registry = self.registry.get_mut(py)?.take();
        let waker = self.waker.get_mut(py)?.take();
        if let Some(registry) = &registry {
            for (fd, _) in &fds {
                let _ = registry.deregister_raw(*fd);
            }
        }
        for entry in &timers {
            entry
                .handle
                .bind(py)
                .as_super()
                .get()
                .set_scheduled(py, false)?;
        }
        drop((ready, timers, fds, poller, registry, waker, uring, flush));
        Ok(())
    }
}

#[pymethods]
impl LoopCore {
    /// Opens the selector (the backend of `backend=`, else of
    /// `IOREADY_BACKEND`, else epoll; `"uring"`: the io_uring engine with
    /// epoll beside it) and the waker. Arguments are for the Python class's
    /// `__init__`.
    #[new]
    #[pyo3(signature = (*_args, **kwargs))]
    fn new(
        py: Python<'_>,
        _args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let engine = super::uring::choose(kwargs)?;
        let (selector, uring) = super::uring::open(py, engine, kwargs)?;
        let registry = selector.registry().clone();
        let waker = Waker::new(&registry, WAKER_TOKEN)?;
        Ok(LoopCore {
            ready: GilCell::new(VecDeque::with_capacity(64)),
            timers: GilCell::default(),
            fds: GilCell::default(),
            poller: GilCell::new(Some(Poller {
                selector,
                events: Events::with_capacity(EVENTS_CAPACITY),
            })),
            registry: GilCell::new(Some(registry)),
            waker: GilCell::new(Some(waker)),
            stopping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            debug: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            read_buf: GilCell::default(),
            uring: GilCell::new(uring),
            in_turn: AtomicBool::new(false),
            flush: GilCell::default(),
        })
    }

    /// The loop's clock: `time.monotonic()`.
    fn time(&self) -> f64 {
        clock::monotonic()
    }

    /// Schedules `callback(*args)` to run soon, in `context`.
    #[pyo3(signature = (callback, *args, context = None))]
    fn call_soon<'py>(
        slf: &Bound<'py, Self>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Handle>> {
        let this = slf.get();
        this.check_closed()?;
        if this.debug() {
            LoopCore::debug_checks(slf, callback, "call_soon", true)?;
        }
        LoopCore::push_soon(slf, callback, CallArgs::from_tuple(args), context)
    }

    /// asyncio's internal `_call_soon(callback, args, context)`.
    fn _call_soon<'py>(
        slf: &Bound<'py, Self>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Handle>> {
        LoopCore::push_soon(slf, callback, CallArgs::from_tuple(args), context)
    }

    /// As `call_soon`, from any thread: wakes the loop if it is waiting.
    #[pyo3(signature = (callback, *args, context = None))]
    fn call_soon_threadsafe<'py>(
        slf: &Bound<'py, Self>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Handle>> {
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        if this.debug() {
            LoopCore::debug_checks(slf, callback, "call_soon_threadsafe", false)?;
        }
        let handle = LoopCore::push_soon(slf, callback, CallArgs::from_tuple(args), context)?;
        this.wake_if_sleeping(py)?;
        Ok(handle)
    }

    /// Schedules `callback(*args)` after `delay` seconds.
    #[pyo3(signature = (delay, callback, *args, context = None))]
    fn call_later<'py>(
        slf: &Bound<'py, Self>,
        delay: &Bound<'py, PyAny>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        if delay.is_none() {
            return Err(PyTypeError::new_err("delay must not be None"));
        }
        let delay: f64 = delay.extract()?;
        LoopCore::schedule_at(
            slf,
            LoopCore::now(slf)? + delay,
            None,
            callback,
            CallArgs::from_tuple(args),
            context,
        )
    }

    /// Schedules `callback(*args)` at `when`, on the loop's clock.
    #[pyo3(signature = (when, callback, *args, context = None))]
    fn call_at<'py>(
        slf: &Bound<'py, Self>,
        when: &Bound<'py, PyAny>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        if when.is_none() {
            return Err(PyTypeError::new_err("when cannot be None"));
        }
        let when_f: f64 = when.extract()?;
        LoopCore::schedule_at(
            slf,
            when_f,
            Some(when),
            callback,
            CallArgs::from_tuple(args),
            context,
        )
    }

    /// asyncio's `_add_callback(handle)`: queue a handle (not cancelled).
    fn _add_callback(&self, handle: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = handle.py();
        let cancelled = match handle.downcast::<Handle>() {
            Ok(h) => h.get().is_cancelled(py)?,
            Err(_) => handle.getattr("_cancelled")?.is_truthy()?,
        };
        if !cancelled {
            self.ready.get_mut(py)?.push_back(handle.clone().unbind());
        }
        Ok(())
    }

    fn _timer_handle_cancelled(&self, handle: &Bound<'_, PyAny>) -> PyResult<()> {
        if handle.getattr("_scheduled")?.is_truthy()? {
            self.timer_cancelled(handle.py())?;
        }
        Ok(())
    }

    #[pyo3(signature = (fd, callback, *args))]
    fn _add_reader<'py>(
        slf: &Bound<'py, Self>,
        fd: &Bound<'py, PyAny>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, Handle>> {
        LoopCore::add_watch(slf, fd, callback, args, EVENT_READ)
    }

    #[pyo3(signature = (fd, callback, *args))]
    fn _add_writer<'py>(
        slf: &Bound<'py, Self>,
        fd: &Bound<'py, PyAny>,
        callback: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, Handle>> {
        LoopCore::add_watch(slf, fd, callback, args, EVENT_WRITE)
    }

    fn _remove_reader(&self, fd: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.remove_watch(fd, EVENT_READ)
    }

    fn _remove_writer(&self, fd: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.remove_watch(fd, EVENT_WRITE)
    }

    /// One iteration: wait for I/O (not at all if callbacks are ready),
    /// queue the ready readers, writers and due timers, run the callbacks
    /// that were ready when it started.
    fn _run_once(slf: &Bound<'_, Self>) -> PyResult<()> {
        LoopCore::run_once(slf)
    }

    /// Closes the selector and forgets every callback (the view's
    /// `close()`, called by asyncio's `close()`).
    fn _close_core(&self, py: Python<'_>) -> PyResult<()> {
        self.shutdown(py)
    }

    #[getter(_stopping)]
    fn stopping_attr(&self) -> bool {
        self.is_stopping()
    }

    #[setter(_stopping)]
    fn set_stopping_attr(&self, value: bool) {
        self.stopping.store(value, Ordering::Relaxed);
    }

    #[getter(_closed)]
    fn closed_attr(&self) -> bool {
        self.is_closed()
    }

    #[setter(_closed)]
    fn set_closed_attr(&self, value: bool) {
        self.closed.store(value, Ordering::Relaxed);
    }

    #[getter(_debug)]
    fn debug_attr(&self) -> bool {
        self.debug()
    }

    #[setter(_debug)]
    fn set_debug_attr(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.debug.store(value.is_truthy()?, Ordering::Relaxed);
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(ready) = self.ready.for_gc() {
            for h in ready.iter() {
                visit.call(h)?;
            }
        }
        if let Some(timers) = self.timers.for_gc() {
            for h in timers.handles() {
                visit.call(h)?;
            }
        }
        if let Some(fds) = self.fds.for_gc() {
            for (_, e) in fds.iter_all() {
                visit.call(&e.fileobj)?;
                if let Some(o) = &e.owner {
                    visit.call(o)?;
                }
                if let Some(r) = &e.reader {
                    visit.call(r)?;
                }
                if let Some(w) = &e.writer {
                    visit.call(w)?;
                }
            }
        }
        if let Some(flush) = self.flush.for_gc() {
            for t in flush.iter() {
                visit.call(t)?;
            }
        }
        if let Some(uring) = self.uring.for_gc() {
            if let Some(engine) = uring.as_ref() {
                super::uring::traverse(engine, &visit)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::with_gil(|py| {
            let ready = self.ready.get_mut(py).map(|mut r| std::mem::take(&mut *r));
            let timers = self.timers.get_mut(py).map(|mut t| t.take_all());
            let fds = self.fds.get_mut(py).map(|mut f| f.take_all());
            let uring = self.close_uring(py);
            let flush = self.flush.get_mut(py).map(|mut f| std::mem::take(&mut *f));
            drop((ready, timers, fds, uring, flush));
        });
    }
}
