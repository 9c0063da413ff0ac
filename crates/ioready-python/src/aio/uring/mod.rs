//! The loop's io_uring engine (`backend="uring"`, or `IOREADY_BACKEND=uring`
//! for a whole program), on the library's `ioready::uring` layer.
//!
//! The stream transports run in completion mode: a multishot accept where
//! the loop serves, a multishot receive per connection into a provided
//! buffer ring, the writes of a turn submitted together, and the loop's
//! wait, its timeout (the next timer, `EXT_ARG`) and every submission in
//! one `io_uring_enter`. Everything readiness-based (`add_reader`/
//! `add_writer`, `sock_*`, pipes, subprocesses, signals, the Python
//! transports) stays on the loop's epoll selector, whose descriptor is
//! polled on the ring: when it is ready, the same turn takes its events.
//!
//! * [`engine`]: the ring, the buffers, the turn's submissions and wait;
//! * [`slots`]: connections and listeners, and `user_data`;
//! * [`transport`]: the native transport class;
//! * [`dispatch`]: the completions reported to transports and listeners.
//!
//! It is the default engine (the faster here, BENCHMARKS.md). Where
//! io_uring is refused (a seccomp filter as Docker's default profile,
//! `kernel.io_uring_disabled`, an old kernel), the loop runs on epoll; when
//! io_uring was asked for by name (`backend="uring"`,
//! `IOREADY_BACKEND=uring`) it says so, once per process (a
//! `RuntimeWarning` naming the reason).

pub(crate) mod dispatch;
pub(crate) mod engine;
mod slots;
pub(crate) mod transport;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ioready::{Backend, Selector};
use pyo3::exceptions::PyValueError;
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) use engine::UringEngine;

use super::core::LoopCore;
use slots::Entry;

/// The engine a loop is made with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    /// The readiness transports on a selector of this backend.
    Readiness(Backend),
    /// The io_uring transports, readiness on epoll beside them; `warn`:
    /// asked for by name, so a refusal is said (a `RuntimeWarning`, once
    /// per process); the default falls back to epoll silently.
    Uring { warn: bool },
}

/// The engine named by `backend=` (else by `IOREADY_BACKEND`): `"uring"`
/// is the io_uring engine; `"epoll"`, `"poll"`, `"select"` the readiness
/// one on that selector; none, or `"auto"`: the io_uring engine where the
/// kernel allows it (it is the faster here: BENCHMARKS.md), else epoll.
///
/// # Errors
///
/// `ValueError` for a name that is no backend.
pub(crate) fn choose(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Engine> {
    let given = match kwargs {
        Some(kw) => match kw.get_item("backend")? {
            Some(v) if !v.is_none() => Some(v.extract::<String>()?),
            _ => None,
        },
        None => None,
    };
    let name = match given {
        Some(n) => n,
        None => match std::env::var("IOREADY_BACKEND") {
            Ok(n) => n,
            Err(_) => return Ok(Engine::Uring { warn: false }),
        },
    };
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "uring" | "io_uring" => Ok(Engine::Uring { warn: true }),
        "" | "auto" => Ok(Engine::Uring { warn: false }),
        _ => lower
            .parse::<Backend>()
            .map(Engine::Readiness)
            .map_err(|_| {
                PyValueError::new_err(format!(
                    "backend: {name:?} is not one of 'uring', 'epoll', 'poll', 'select', 'auto'"
                ))
            }),
    }
}

/// Sizes given to `EventLoop(...)` for tests (`_uring_entries`,
/// `_uring_cq_entries`, `_uring_buffers`, `_uring_buf_len`).
fn sizes(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<engine::Sizes> {
    let mut s = engine::Sizes::default();
    if let Some(kw) = kwargs {
        if let Some(v) = kw.get_item("_uring_entries")? {
            s.entries = v.extract()?;
        }
        if let Some(v) = kw.get_item("_uring_cq_entries")? {
            s.cq_entries = v.extract()?;
        }
        if let Some(v) = kw.get_item("_uring_buffers")? {
            s.buffers = v.extract()?;
        }
        if let Some(v) = kw.get_item("_uring_buf_len")? {
            s.buf_len = v.extract()?;
        }
    }
    Ok(s)
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// The selector and, for [`Engine::Uring`], the engine polling it; where
/// io_uring is refused, a warning (once per process) and epoll.
///
/// # Errors
///
/// The selector's; `ValueError` for bad sizes.
pub(crate) fn open(
    py: Python<'_>,
    engine: Engine,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Selector, Option<UringEngine>)> {
    match engine {
        Engine::Readiness(b) => Ok((Selector::with_backend(b)?, None)),
        Engine::Uring { warn } => {
            let selector = Selector::with_backend(Backend::Epoll)?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&selector.try_as_fd()?);
            match UringEngine::open(fd, sizes(kwargs)?) {
                Ok(e) => Ok((selector, Some(e))),
                Err(e) => {
                    if warn && !WARNED.swap(true, Ordering::Relaxed) {
                        let msg = format!(
                            "ioready: the io_uring engine is not available, the loop runs on \
                             epoll: {e}"
                        );
                        let warnings = py.import("warnings")?;
                        let category = py.get_type::<pyo3::exceptions::PyRuntimeWarning>();
                        warnings.call_method1("warn", (msg, category, 2))?;
                    }
                    Ok((selector, None))
                }
            }
        }
    }
}

impl LoopCore {
    /// The wait of a turn on the io_uring engine: one enter, the
    /// completions reaped (dispatched by [`run_completions`](Self::run_completions)
    /// after the turn's callbacks), and the selector's events taken
    /// (without waiting) when its poll completed.
    ///
    /// # Errors
    ///
    /// A signal handler's exception; the kernel's `OSError`.
    pub(crate) fn wait_uring(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<usize> {
        // As the selector's wait: announce the sleep, then look at the
        // queue a last time (a callback queued from another thread from now
        // on wakes the enter through the waker).
        let mut timeout = timeout;
        if timeout != Some(Duration::ZERO) {
            self.sleeping
                .store(true, std::sync::atomic::Ordering::Release);
            if !self.ready.get(py)?.is_empty() {
                timeout = Some(Duration::ZERO);
            }
        }
        let result = {
            let mut guard = self.uring.get_mut(py)?;
            let Some(engine) = guard.as_mut() else {
                return Err(super::core::closed_error());
            };
            engine.wait(py, timeout, &self.sleeping)
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                py.check_signals()?;
            }
            Err(e) => return Err(e.into()),
        }
        let selector = {
            let mut guard = self.uring.get_mut(py)?;
            guard
                .as_mut()
                .is_some_and(|e| std::mem::take(&mut e.io.selector_ready))
        };
        if selector {
            return self.wait_selector(py, Some(Duration::ZERO));
        }
        Ok(0)
    }

    /// The completions of the turn's wait, reported to the transports
    /// (nothing without the engine): how many.
    ///
    /// # Errors
    ///
    /// `SystemExit`/`KeyboardInterrupt` from a protocol (the rest stay
    /// queued for the next turn, whose wait then does not block).
    pub(crate) fn run_completions(slf: &Bound<'_, LoopCore>) -> PyResult<usize> {
        dispatch::dispatch(slf)
    }

    /// Closes the engine (the loop closes): every request cancelled;
    /// the transports and callbacks it held, to drop after the borrow.
    pub(crate) fn close_uring(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let engine = self.uring.get_mut(py)?.take();
        Ok(match engine {
            Some(mut e) => {
                let owned = e.shutdown();
                drop(e);
                owned
            }
            None => Vec::new(),
        })
    }
}

/// The engine's references, for the garbage collector.
pub(crate) fn traverse(engine: &UringEngine, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
    for slot in engine.slots.iter() {
        match &slot.entry {
            Entry::Conn(c) => {
                if let Some(t) = &c.transport {
                    visit.call(t)?;
                }
            }
            Entry::Listener(l) => {
                if let Some(cb) = &l.callback {
                    visit.call(cb)?;
                }
            }
            Entry::Free => {}
        }
    }
    Ok(())
}

/// `_uring_active(loop)`: whether the loop runs its transports on io_uring.
#[pyfunction]
fn _uring_active(loop_: &Bound<'_, LoopCore>) -> PyResult<bool> {
    Ok(loop_.get().uring.get(loop_.py())?.is_some())
}

/// `_uring_serve(loop, fd, callback)`: a multishot accept on listening
/// socket `fd`; `callback(fd_or_minus_errno, ended)` per completion.
/// Returns the listener's handle `(slot, generation)`.
#[pyfunction]
fn _uring_serve(loop_: &Bound<'_, LoopCore>, fd: i32, callback: Py<PyAny>) -> PyResult<(u32, u32)> {
    dispatch::serve(loop_.get(), loop_.py(), fd, callback)
}

/// `_uring_rearm(loop, handle)`: arm a listener's accept again.
#[pyfunction]
fn _uring_rearm(loop_: &Bound<'_, LoopCore>, handle: (u32, u32)) -> PyResult<()> {
    dispatch::rearm(loop_.get(), loop_.py(), handle.0, handle.1)
}

/// `_uring_unserve(loop, handle)`: stop accepting (before the socket is
/// closed).
#[pyfunction]
fn _uring_unserve(loop_: &Bound<'_, LoopCore>, handle: (u32, u32)) -> PyResult<()> {
    let cb = dispatch::unserve(loop_.get(), loop_.py(), handle.0, handle.1)?;
    drop(cb);
    Ok(())
}

/// Adds the engine's class and functions to the extension module.
///
/// # Errors
///
/// Those of creating them.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<transport::UringTransport>()?;
    m.add_function(wrap_pyfunction!(_uring_active, m)?)?;
    m.add_function(wrap_pyfunction!(_uring_serve, m)?)?;
    m.add_function(wrap_pyfunction!(_uring_rearm, m)?)?;
    m.add_function(wrap_pyfunction!(_uring_unserve, m)?)?;
    Ok(())
}
