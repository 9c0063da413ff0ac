//! The native TCP/Unix stream transport (`_ioready.StreamTransport`), the
//! base of `ioready._transport.SocketTransport` which the loop's
//! `_make_socket_transport` makes, so `create_server`,
//! `create_connection`, `create_unix_*`, `connect_accepted_socket` and
//! `start_tls` all get it.
//!
//! Native: the hot paths, which are asyncio's `_SelectorSocketTransport`
//! methods of the same names and behaviour: `_read_ready` (one `recv` into
//! the loop's buffer then `data_received(bytes)`, or `get_buffer` /
//! `recv` into it / `buffer_updated` for a `BufferedProtocol`), `write`
//! (the writes of one loop turn gathered and sent in one `send` at its end,
//! outside a turn the socket tried at once; only what the socket refuses
//! buffered, the writer registered only then), `_write_ready` (the whole
//! buffer in one `send`),
//! `get_write_buffer_size`, `set_protocol`; and the state those use, as
//! attributes with asyncio's names (`_loop`, `_sock`, `_protocol`,
//! `_closing`, `_conn_lost`, `_eof`, `_paused`, `_protocol_paused`,
//! `_high_water`, `_low_water`, `_empty_waiter`, ...), so that asyncio's
//! own Python for the cold paths (close, abort, flow-control callbacks,
//! pause/resume reading, the repr, fatal errors) runs on it unchanged
//! (see `ioready/_transport.py`).

mod read;
pub(crate) mod sys;
mod write;

pub(crate) use write::flush_turn;

use std::os::fd::RawFd;

use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::core::LoopCore;
use super::gil_cell::GilCell;
use super::transport_common::{opt_to_py, protocol_callbacks, py_to_opt};

/// asyncio's `_SelectorTransport.max_size`: the most one receive asks for.
pub(crate) const MAX_SIZE: usize = 256 * 1024;

/// The transport's state (asyncio's attributes of the same names).
#[derive(Default)]
pub(crate) struct StreamState {
    loop_: Option<Py<PyAny>>,
    /// `loop_` as the native loop (when it is one): the hot paths reach the
    /// loop's state without a type check per call.
    core: Option<Py<LoopCore>>,
    sock: Option<Py<PyAny>>,
    protocol: Option<Py<PyAny>>,
    protocol_connected: bool,
    /// A `BufferedProtocol`: `get_buffer`/`buffer_updated` are used.
    buffered: bool,
    /// `data_received`, or `get_buffer`, of the protocol (bound once).
    on_data: Option<Py<PyAny>>,
    /// `buffer_updated` of a buffered protocol.
    on_filled: Option<Py<PyAny>>,
    closing: bool,
    eof: bool,
    paused: bool,
    protocol_paused: bool,
    conn_lost: usize,
    high_water: usize,
    low_water: usize,
    /// Bytes not yet sent: `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
    /// `wbuf` holds only bytes written during this loop turn, not tried on
    /// the socket yet: they go out together at the end of the turn (see
    /// `write`).
    queued: bool,
    /// In the loop's list of transports to flush at the end of the turn.
    listed: bool,
    empty_waiter: Option<Py<PyAny>>,
}

impl StreamState {
    fn pending(&self) -> usize {
        self.wbuf.len() - self.wpos
    }
}

/// `loop_` as the native loop, if it is one.
fn as_core(loop_: &Bound<'_, PyAny>) -> Option<Py<LoopCore>> {
    loop_
        .downcast::<LoopCore>()
        .ok()
        .map(|c| c.clone().unbind())
}

/// The native stream transport (see the module).
#[pyclass(
    module = "ioready._ioready",
    name = "StreamTransport",
    subclass,
    frozen,
    weakref
)]
pub(crate) struct StreamTransport {
    fd: RawFd,
    state: GilCell<StreamState>,
}

#[pymethods]
impl StreamTransport {
    /// The transport of `sock` (connected, non-blocking) for `protocol` on
    /// `loop`; the Python subclass's `__init__` does the rest (extra info,
    /// the server's count, `connection_made`, reading).
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
        let transport = StreamTransport {
            fd,
            state: GilCell::new(StreamState {
                loop_: Some(loop_.clone().unbind()),
                core: as_core(loop_),
                sock: Some(sock.clone().unbind()),
                high_water: 64 * 1024,
                low_water: 16 * 1024,
                ..StreamState::default()
            }),
        };
        transport.set_protocol(protocol)?;
        Ok(transport)
    }

    /// Sets the protocol (a `BufferedProtocol` is read through
    /// `get_buffer`/`buffer_updated`).
    fn set_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = protocol.py();
        let (buffered, on_data, on_filled) = protocol_callbacks(protocol)?;
        let old = {
            let mut state = self.state.get_mut(py)?;
            state.buffered = buffered;
            state.protocol_connected = true;
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

    /// Bytes buffered, not yet sent. Bytes written this turn and not yet
    /// tried on the socket are tried first, so the answer is the one
    /// asyncio, which tries every write at once, gives.
    fn get_write_buffer_size(slf: &Bound<'_, Self>) -> PyResult<usize> {
        StreamTransport::flush_queued(slf, false)?;
        Ok(slf.get().state.get(slf.py())?.pending())
    }

    /// Data to read (the loop's reader callback).
    fn _read_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        StreamTransport::read_ready(slf)
    }

    /// Room to write (the loop's writer callback).
    fn _write_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        StreamTransport::write_ready(slf)
    }

    /// Writes `data` (bytes, bytearray or memoryview) without blocking:
    /// what the socket takes now is sent, the rest buffered.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        StreamTransport::write_data(slf, data)
    }

    /// Drops the buffered bytes (asyncio's `_buffer.clear()`).
    fn _clear_write_buffer(&self, py: Python<'_>) -> PyResult<()> {
        let mut state = self.state.get_mut(py)?;
        state.wbuf.clear();
        state.wpos = 0;
        state.queued = false;
        Ok(())
    }

    #[getter]
    fn _sock_fd(&self) -> RawFd {
        self.fd
    }

    /// Buffered byte count (asyncio tests `not self._buffer`).
    #[getter]
    fn _buffer(slf: &Bound<'_, Self>) -> PyResult<usize> {
        StreamTransport::get_write_buffer_size(slf)
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

    #[getter(_loop)]
    fn loop_attr(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(opt_to_py(py, self.state.get(py)?.loop_.as_ref()))
    }

    #[setter(_loop)]
    fn set_loop_attr(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        let core = as_core(value.bind(py));
        let new = py_to_opt(py, value);
        let old = {
            let mut state = self.state.get_mut(py)?;
            (
                std::mem::replace(&mut state.loop_, new),
                std::mem::replace(&mut state.core, core),
            )
        };
        drop(old);
        Ok(())
    }

    #[getter(_sock)]
    fn sock_attr(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(opt_to_py(py, self.state.get(py)?.sock.as_ref()))
    }

    #[setter(_sock)]
    fn set_sock_attr(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        let new = py_to_opt(py, value);
        let old = std::mem::replace(&mut self.state.get_mut(py)?.sock, new);
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

    #[getter(_protocol_connected)]
    fn protocol_connected_attr(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state.get(py)?.protocol_connected)
    }

    #[setter(_protocol_connected)]
    fn set_protocol_connected_attr(&self, py: Python<'_>, value: bool) -> PyResult<()> {
        self.state.get_mut(py)?.protocol_connected = value;
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
            &state.loop_,
            &state.sock,
            &state.protocol,
            &state.on_data,
            &state.on_filled,
            &state.empty_waiter,
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
                    (state.loop_.take(), state.core.take()),
                    state.protocol.take(),
                    state.on_data.take(),
                    state.on_filled.take(),
                    state.empty_waiter.take(),
                ),
                Err(_) => return,
            };
            drop(taken);
        });
    }
}
