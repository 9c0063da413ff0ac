//! `UringTransport`: the native half of the io_uring stream transport
//! (`ioready._uring.UringSocketTransport`), with the state asyncio's cold
//! paths read and set under asyncio's attribute names (`_protocol`,
//! `_closing`, `_eof`, `_paused`, `_protocol_paused`, `_conn_lost`,
//! `_high_water`, `_low_water`), and the hot paths: `write` (appended to
//! the connection's buffer, sent by the loop's next enter with every other
//! write of the turn), the deliveries of received data, the end of a send.
//!
//! The connection's buffers and requests live in the engine's slot
//! ([`super::slots::Conn`]); the transport names it by slot and
//! generation.

use std::os::fd::RawFd;

use pyo3::exceptions::PyRuntimeError;
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use super::slots::{Conn, Entry};
use crate::aio::core::LoopCore;
use crate::aio::gil_cell::GilCell;
pub(crate) use crate::aio::transport_common::protocol_error;
use crate::aio::transport_common::{
    check_bytes_like, check_writable, count_lost_write, opt_to_py, protocol_callbacks, py_to_opt,
    warn_lost_write,
};

/// The transport's state (asyncio's attributes of the same names).
#[derive(Default)]
pub(crate) struct UState {
    pub(crate) core: Option<Py<LoopCore>>,
    pub(crate) protocol: Option<Py<PyAny>>,
    pub(crate) buffered: bool,
    pub(crate) on_data: Option<Py<PyAny>>,
    pub(crate) on_filled: Option<Py<PyAny>>,
    pub(crate) closing: bool,
    pub(crate) eof: bool,
    pub(crate) paused: bool,
    pub(crate) protocol_paused: bool,
    pub(crate) conn_lost: usize,
    pub(crate) high_water: usize,
    pub(crate) low_water: usize,
    /// `loop.sendfile`'s waiter (writes are refused while it is set).
    pub(crate) empty_waiter: Option<Py<PyAny>>,
    /// The engine slot and its generation; `None` once released.
    pub(crate) slot: Option<(u32, u32)>,
    /// The context the protocol's callbacks run in: a copy of the one
    /// reading was started (or resumed) in, as asyncio's reader handle
    /// (`None` before reading starts).
    pub(crate) context: Option<Py<PyAny>>,
}

/// The native io_uring stream transport (see the module).
#[pyclass(
    module = "ioready._ioready",
    name = "UringTransport",
    subclass,
    frozen,
    weakref
)]
pub(crate) struct UringTransport {
    pub(crate) fd: RawFd,
    pub(crate) state: GilCell<UState>,
}

impl UringTransport {
    /// The loop core and the slot, if the transport still has them.
    pub(crate) fn core_slot(&self, py: Python<'_>) -> PyResult<Option<(Py<LoopCore>, u32, u32)>> {
        let state = self.state.get(py)?;
        Ok(match (&state.core, state.slot) {
            (Some(core), Some((i, gen))) => Some((core.clone_ref(py), i, gen)),
            _ => None,
        })
    }

    /// Runs `f` on the connection's slot in the engine (and the engine's
    /// queues); `None` if the transport has no slot any more.
    pub(crate) fn with_conn<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Conn, &mut super::engine::Io, u32, u32) -> R,
    ) -> PyResult<Option<R>> {
        let Some((core, i, gen)) = self.core_slot(py)? else {
            return Ok(None);
        };
        let core = core.get();
        let mut engine = core.uring.get_mut(py)?;
        let Some(engine) = engine.as_mut() else {
            return Ok(None);
        };
        let super::engine::UringEngine { slots, io } = engine;
        let Some(Entry::Conn(conn)) = slots.get_mut(i, gen) else {
            return Ok(None);
        };
        Ok(Some(f(conn, io, i, gen)))
    }

    /// Bytes written and not yet sent.
    pub(crate) fn pending(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.with_conn(py, |c, _, _, _| c.pending())?.unwrap_or(0))
    }

    /// `write` of bytes: appended to the connection's buffer, the
    /// connection queued for this turn's submission.
    fn write_bytes(slf: &Bound<'_, UringTransport>, data: &[u8]) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        {
            let mut state = this.state.get_mut(py)?;
            check_writable(state.eof, state.empty_waiter.is_some())?;
            if data.is_empty() {
                return Ok(());
            }
            if state.closing && state.conn_lost == 0 {
                // Closing with bytes still to send: what is written now is
                // dropped, as the readiness transport drops it once its
                // socket took the earlier bytes (the usual case), so that a
                // write after close() never reaches the peer on one engine
                // and not on the other.
                return Ok(());
            }
            if state.conn_lost > 0 {
                let warn = count_lost_write(&mut state.conn_lost);
                drop(state);
                if warn {
                    warn_lost_write(py)?;
                }
                return Ok(());
            }
        }
        let (high_water, paused) = {
            let state = this.state.get(py)?;
            (state.high_water, state.protocol_paused)
        };
        let pending = this.with_conn(py, |c, engine, i, gen| {
            c.wbuf.extend_from_slice(data);
            let mut refused = c.refused();
            if !refused && !paused && c.wbuf.len() > high_water {
                // Past the high-water mark with nothing in flight: the
                // socket is tried at once, as asyncio's `write` (and the
                // readiness transport) try it, so that what counts against
                // the mark is what the socket refused. A protocol writing in
                // a loop without yielding (3.12's `wait_for` runs `drain()`
                // inline) is paused when asyncio's would be, not after
                // however much the turn's enter would have taken. A send
                // error is left to that enter's send, which reports it; a
                // protocol already paused is not tried again at each write.
                if let Ok(n) = crate::aio::stream::sys::send_nowait(c.fd, &c.wbuf) {
                    c.wbuf.drain(..n);
                }
                refused = !c.wbuf.is_empty();
            }
            if !c.wbuf.is_empty() && !c.dirty && !c.sending {
                c.dirty = true;
                engine.dirty.push((i, gen));
            }
            (c.pending(), refused)
        })?;
        let Some((pending, refused)) = pending else {
            return Ok(());
        };
        // Bytes waiting only for the turn's enter (nothing refused yet) do
        // not count: a burst the socket takes whole at the enter must not
        // pause the protocol (those above the mark were tried just above).
        let over = refused && pending > high_water && !paused;
        if over {
            slf.call_method0("_maybe_pause_protocol")?;
        }
        Ok(())
    }
}

#[pymethods]
impl UringTransport {
    /// The transport of `sock` (connected, non-blocking) for `protocol` on
    /// `loop` (an io_uring loop); the Python subclass's `__init__` does the
    /// rest (extra info, the server's count, `connection_made`, reading).
    #[new]
    #[pyo3(signature = (loop_, sock, protocol, *_args, **_kwargs))]
    fn new(
        loop_: &Bound<'_, PyAny>,
        sock: &Bound<'_, PyAny>,
        protocol: &Bound<'_, PyAny>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let fd: RawFd = sock.call_method0("fileno")?.extract()?;
        let core = loop_.downcast::<LoopCore>()?;
        let transport = UringTransport {
            fd,
            state: GilCell::new(UState {
                core: Some(core.clone().unbind()),
                high_water: 64 * 1024,
                low_water: 16 * 1024,
                ..UState::default()
            }),
        };
        transport.set_protocol(protocol)?;
        Ok(transport)
    }

    /// Takes a slot in the loop's engine (called once, by `__init__`).
    fn _attach(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let core = this
            .state
            .get(py)?
            .core
            .as_ref()
            .map(|c| c.clone_ref(py))
            .ok_or_else(crate::aio::core::closed_error)?;
        let slot = {
            let mut engine = core.get().uring.get_mut(py)?;
            let engine = engine
                .as_mut()
                .ok_or_else(|| PyRuntimeError::new_err("the loop has no io_uring engine"))?;
            engine
                .slots
                .insert(Entry::Conn(Conn::new(this.fd, slf.clone().unbind())))
        };
        this.state.get_mut(py)?.slot = Some(slot);
        Ok(())
    }

    /// Starts (or resumes) reading: data stashed while paused is delivered
    /// soon, and the multishot receive is armed by the next enter.
    fn _start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let context = crate::ffi::context::copy_current(py)?.unbind();
        drop(slf.get().state.get_mut(py)?.context.replace(context));
        let stashed = slf.get().with_conn(py, |c, engine, i, gen| {
            c.reading = true;
            if !c.recv_armed {
                engine.arm.push((i, gen));
            }
            !c.stash.is_empty() || c.stash_eof
        })?;
        if stashed == Some(true) {
            let loop_ = slf.getattr("_loop")?;
            loop_.call_method1("call_soon", (slf.getattr("_deliver_stash")?,))?;
        }
        Ok(())
    }

    /// Stops reading: the receive is cancelled (what arrives before the
    /// cancellation takes effect is stashed, not lost, and no more
    /// buffers are consumed). `now` (`pause_reading`) submits the
    /// cancellation at once rather than with the turn's enter: until it
    /// reaches the kernel the multishot receive keeps taking the socket's
    /// bytes (into the buffer ring, then the stash), so a peer writing
    /// without yielding would never meet the flow control a paused reader
    /// gives with asyncio (the socket's buffers filling up). Closing need
    /// not hurry (the transport lets go of the connection anyway).
    #[pyo3(signature = (now = false))]
    fn _stop_reading(&self, py: Python<'_>, now: bool) -> PyResult<()> {
        let r = self.with_conn(py, |c, engine, i, gen| {
            c.reading = false;
            if c.recv_armed {
                engine.cancel(super::slots::pack(super::slots::Kind::Recv, gen, i))?;
                if now {
                    engine.submit_now()?;
                }
            }
            Ok::<(), std::io::Error>(())
        })?;
        if let Some(r) = r {
            r?;
        }
        Ok(())
    }

    /// Delivers what was stashed while reading was paused.
    fn _deliver_stash(slf: &Bound<'_, Self>) -> PyResult<()> {
        super::dispatch::deliver_stash(slf)
    }

    /// Lets go of the engine slot (the transport is done): the requests in
    /// flight are cancelled, their completions never reported again, and
    /// the slot reused only after the last of them. Called before the
    /// socket is closed.
    fn _release(&self, py: Python<'_>) -> PyResult<()> {
        let Some((core, i, gen)) = self.core_slot(py)? else {
            return Ok(());
        };
        self.state.get_mut(py)?.slot = None;
        let taken = {
            let mut engine = core.get().uring.get_mut(py)?;
            let Some(engine) = engine.as_mut() else {
                return Ok(());
            };
            super::dispatch::release_conn(engine, i, gen)?
        };
        drop(taken);
        Ok(())
    }

    /// Drops the bytes not yet sent (asyncio's `_buffer.clear()`); a send
    /// in flight is cancelled.
    fn _clear_write_buffer(&self, py: Python<'_>) -> PyResult<()> {
        let r = self.with_conn(py, |c, engine, i, gen| {
            if !c.sending && c.inpos == c.inflight.len() {
                send_unsubmitted(c.fd, &c.wbuf);
            }
            c.wbuf.clear();
            if c.sending {
                engine.cancel(super::slots::pack(super::slots::Kind::Send, gen, i))
            } else {
                // The rest of a short send, not yet resubmitted.
                c.inflight.clear();
                c.inpos = 0;
                Ok(())
            }
        })?;
        if let Some(r) = r {
            r?;
        }
        Ok(())
    }

    /// `write_eof` once the buffer is sent: whether it is sent already
    /// (then the caller shuts the socket down at once).
    fn _shut_when_sent(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self
            .with_conn(py, |c, _, _, _| {
                if c.pending() == 0 {
                    true
                } else {
                    c.shut_wr = true;
                    false
                }
            })?
            .unwrap_or(true))
    }

    /// Sets the protocol (a `BufferedProtocol` is read through
    /// `get_buffer`/`buffer_updated`).
    fn set_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = protocol.py();
        let (buffered, on_data, on_filled) = protocol_callbacks(protocol)?;
        let old = {
            let mut state = self.state.get_mut(py)?;
            state.buffered = buffered;
            (
                state.protocol.replace(protocol.clone().unbind()),
                state.on_data.replace(on_data.unbind()),
                std::mem::replace(&mut state.on_filled, on_filled),
            )
        };
        drop(old);
        Ok(())
    }

    fn get_protocol(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self._protocol(py)
    }

    /// Bytes written, not yet sent.
    fn get_write_buffer_size(&self, py: Python<'_>) -> PyResult<usize> {
        self.pending(py)
    }

    /// Writes `data` (bytes, bytearray or memoryview): sent with the turn's
    /// other writes by the loop's next enter.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(bytes) = data.downcast::<PyBytes>() {
            return UringTransport::write_bytes(slf, bytes.as_bytes());
        }
        check_bytes_like(data)?;
        let copy = data.py().get_type::<PyBytes>().call1((data,))?;
        UringTransport::write_bytes(slf, copy.downcast::<PyBytes>()?.as_bytes())
    }

    #[getter]
    fn _sock_fd(&self) -> RawFd {
        self.fd
    }

    #[getter]
    fn _protocol(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(opt_to_py(py, self.state.get(py)?.protocol.as_ref()))
    }

    #[setter(_protocol)]
    fn set_protocol_attr(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        if !value.is_none(py) {
            return self.set_protocol(value.bind(py));
        }
        let old = {
            let mut state = self.state.get_mut(py)?;
            (
                state.protocol.take(),
                state.on_data.take(),
                state.on_filled.take(),
            )
        };
        drop(old);
        Ok(())
    }

    #[getter(_empty_waiter)]
    fn empty_waiter_attr(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(opt_to_py(py, self.state.get(py)?.empty_waiter.as_ref()))
    }

    #[setter(_empty_waiter)]
    fn set_empty_waiter_attr(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        let new = py_to_opt(py, value);
        let old = std::mem::replace(&mut self.state.get_mut(py)?.empty_waiter, new);
        drop(old);
        Ok(())
    }

    #[getter(_closing)]
    fn closing_attr(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state.get(py)?.closing)
    }

    #[setter(_closing)]
    fn set_closing_attr(&self, py: Python<'_>, value: bool) -> PyResult<()> {
        self.state.get_mut(py)?.closing = value;
        Ok(())
    }

    #[getter(_eof)]
    fn eof_attr(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state.get(py)?.eof)
    }

    #[setter(_eof)]
    fn set_eof_attr(&self, py: Python<'_>, value: bool) -> PyResult<()> {
        self.state.get_mut(py)?.eof = value;
        Ok(())
    }

    #[getter(_paused)]
    fn paused_attr(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state.get(py)?.paused)
    }

    #[setter(_paused)]
    fn set_paused_attr(&self, py: Python<'_>, value: bool) -> PyResult<()> {
        self.state.get_mut(py)?.paused = value;
        Ok(())
    }

    #[getter(_protocol_paused)]
    fn protocol_paused_attr(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state.get(py)?.protocol_paused)
    }

    #[setter(_protocol_paused)]
    fn set_protocol_paused_attr(&self, py: Python<'_>, value: bool) -> PyResult<()> {
        self.state.get_mut(py)?.protocol_paused = value;
        Ok(())
    }

    #[getter(_conn_lost)]
    fn conn_lost_attr(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.get(py)?.conn_lost)
    }

    #[setter(_conn_lost)]
    fn set_conn_lost_attr(&self, py: Python<'_>, value: usize) -> PyResult<()> {
        self.state.get_mut(py)?.conn_lost = value;
        Ok(())
    }

    #[getter(_high_water)]
    fn high_water_attr(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.get(py)?.high_water)
    }

    #[setter(_high_water)]
    fn set_high_water_attr(&self, py: Python<'_>, value: usize) -> PyResult<()> {
        self.state.get_mut(py)?.high_water = value;
        Ok(())
    }

    #[getter(_low_water)]
    fn low_water_attr(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.get(py)?.low_water)
    }

    #[setter(_low_water)]
    fn set_low_water_attr(&self, py: Python<'_>, value: usize) -> PyResult<()> {
        self.state.get_mut(py)?.low_water = value;
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        let Some(state) = self.state.for_gc() else {
            return Ok(());
        };
        if let Some(core) = &state.core {
            visit.call(core)?;
        }
        for obj in [
            &state.protocol,
            &state.on_data,
            &state.on_filled,
            &state.empty_waiter,
            &state.context,
        ]
        .into_iter()
        .flatten()
        {
            visit.call(obj)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::with_gil(|py| {
            let taken = match self.state.get_mut(py) {
                Ok(mut state) => (
                    state.protocol.take(),
                    state.on_data.take(),
                    state.on_filled.take(),
                    state.empty_waiter.take(),
                    state.context.take(),
                ),
                Err(_) => return,
            };
            drop(taken);
        });
    }
}

/// Before the buffer is dropped (`abort`, a fatal error): bytes written
/// while nothing was buffered or in flight, which asyncio's transport
/// would have handed to the socket inside `write()` and which here only
/// wait for the turn's `io_uring_enter`, go to the socket now, as much of
/// them as it takes at once (a server that writes its answer and aborts in
/// the same turn, as aiohttp's tests do, still sends it). Errors are
/// dropped with the rest: the transport is being torn down.
fn send_unsubmitted(fd: RawFd, mut data: &[u8]) {
    // `fd` is the connection's descriptor, still open (the transport closes
    // it only after releasing its slot).
    while !data.is_empty() {
        match crate::aio::stream::sys::send_nowait(fd, data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
