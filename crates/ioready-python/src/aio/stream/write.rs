//! Writing: asyncio's `write` and `_write_ready`, natively. `write` tries
//! the socket at once when nothing is buffered and buffers only what it did
//! not take (registering the writer then); `_write_ready` sends the whole
//! buffer in one call. Flow control (`pause_writing` above the high-water
//! mark, `resume_writing` at the low one) goes through asyncio's own
//! `_maybe_pause_protocol`/`_maybe_resume_protocol`, called only when a
//! mark is crossed.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::sys;
use super::StreamTransport;
use crate::aio::core::LoopCore;
use crate::aio::fds::EVENT_WRITE;
use crate::aio::transport_common::{
    check_bytes_like, check_writable, count_lost_write, protocol_error, warn_lost_write,
};

/// Once this much of the buffer is sent, the rest moves to its start.
const COMPACT_AT: usize = 64 * 1024;

/// What `write` does with the bytes after its checks.
enum Step {
    Done,
    /// The socket failed: the transport's fatal error.
    Failed(std::io::Error),
    /// The writer must be registered (the socket did not take everything).
    Register,
    /// Buffered; the high-water mark may be crossed.
    Buffered,
}

impl StreamTransport {
    pub(super) fn write_data(
        slf: &Bound<'_, StreamTransport>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        if let Ok(bytes) = data.downcast::<PyBytes>() {
            return StreamTransport::write_bytes(slf, bytes.as_bytes());
        }
        check_bytes_like(data)?;
        write_buffer(slf, data, py)
    }

    /// `write` of plain bytes.
    pub(super) fn write_bytes(slf: &Bound<'_, StreamTransport>, data: &[u8]) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let step = {
            let mut state = this.state.get_mut(py)?;
            check_writable(state.eof, state.empty_waiter.is_some())?;
            if data.is_empty() {
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
            if state.pending() == 0 {
                match sys::send(this.fd, data) {
                    Ok(n) if n == data.len() => Step::Done,
                    Ok(n) => {
                        state.wbuf.extend_from_slice(&data[n..]);
                        Step::Register
                    }
                    Err(e) if sys::is_retry(&e) => {
                        state.wbuf.extend_from_slice(data);
                        Step::Register
                    }
                    Err(e) => Step::Failed(e),
                }
            } else {
                state.wbuf.extend_from_slice(data);
                Step::Buffered
            }
        };
        match step {
            Step::Done => Ok(()),
            Step::Failed(e) => {
                protocol_error(slf, e.into(), "Fatal write error on socket transport")
            }
            Step::Register => {
                let loop_ = slf.getattr("_loop")?;
                let core = loop_.downcast::<LoopCore>()?;
                let callback = slf.getattr("_write_ready")?;
                let fd = this.fd.into_pyobject(py)?;
                LoopCore::add_watch(core, &fd, &callback, &PyTuple::empty(py), EVENT_WRITE)?;
                StreamTransport::maybe_pause(slf)
            }
            Step::Buffered => StreamTransport::maybe_pause(slf),
        }
    }

    /// asyncio's `_maybe_pause_protocol`, called only above the mark.
    fn maybe_pause(slf: &Bound<'_, StreamTransport>) -> PyResult<()> {
        let over = {
            let state = slf.get().state.get(slf.py())?;
            state.pending() > state.high_water && !state.protocol_paused
        };
        if over {
            slf.call_method0("_maybe_pause_protocol")?;
        }
        Ok(())
    }

    /// The writer callback: the buffer in one `send`; when it is empty,
    /// the writer goes and a pending close or `write_eof` completes.
    pub(super) fn write_ready(slf: &Bound<'_, StreamTransport>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let sent = {
            let mut state = this.state.get_mut(py)?;
            if state.conn_lost > 0 || state.pending() == 0 {
                return Ok(());
            }
            let result = sys::send(this.fd, &state.wbuf[state.wpos..]);
            if let Ok(n) = result {
                state.wpos += n;
                if state.wpos == state.wbuf.len() {
                    state.wbuf.clear();
                    state.wpos = 0;
                } else if state.wpos >= COMPACT_AT {
                    let wpos = state.wpos;
                    state.wbuf.drain(..wpos);
                    state.wpos = 0;
                }
            }
            result
        };
        let loop_ = slf.getattr("_loop")?;
        let core = loop_.downcast::<LoopCore>()?;
        match sent {
            Err(e) if sys::is_retry(&e) => Ok(()),
            Err(e) => {
                core.get().remove_fd_event(py, this.fd, EVENT_WRITE)?;
                slf.call_method0("_clear_write_buffer")?;
                let exc = PyErr::from(e).into_value(py);
                slf.call_method1(
                    "_fatal_error",
                    (&exc, "Fatal write error on socket transport"),
                )?;
                let waiter = slf.getattr("_empty_waiter")?;
                if !waiter.is_none() {
                    waiter.call_method1("set_exception", (exc,))?;
                }
                Ok(())
            }
            Ok(_) => {
                let (paused, pending) = {
                    let state = this.state.get(py)?;
                    (state.protocol_paused, state.pending())
                };
                if paused {
                    slf.call_method0("_maybe_resume_protocol")?;
                }
                if pending > 0 || this.state.get(py)?.pending() > 0 {
                    return Ok(());
                }
                core.get().remove_fd_event(py, this.fd, EVENT_WRITE)?;
                let waiter = slf.getattr("_empty_waiter")?;
                if !waiter.is_none() {
                    waiter.call_method1("set_result", (py.None(),))?;
                }
                let (closing, eof) = {
                    let state = this.state.get(py)?;
                    (state.closing, state.eof)
                };
                if closing {
                    slf.call_method1("_call_connection_lost", (py.None(),))?;
                } else if eof {
                    slf.getattr("_sock")?.call_method1("shutdown", (1,))?;
                }
                Ok(())
            }
        }
    }
}

/// `write` of a bytearray or memoryview: its memory, borrowed for the
/// call.
#[cfg(any(not(Py_LIMITED_API), Py_3_11))]
fn write_buffer(
    slf: &Bound<'_, StreamTransport>,
    data: &Bound<'_, PyAny>,
    _py: Python<'_>,
) -> PyResult<()> {
    crate::ffi::buffer::with_bytes(data, false, |bytes| {
        StreamTransport::write_bytes(slf, bytes)
    })?
}

/// `write` of a bytearray or memoryview: a bytes copy (the stable ABI
/// before 3.11 has no buffer protocol).
#[cfg(not(any(not(Py_LIMITED_API), Py_3_11)))]
fn write_buffer(
    slf: &Bound<'_, StreamTransport>,
    data: &Bound<'_, PyAny>,
    py: Python<'_>,
) -> PyResult<()> {
    let copy = PyBytes::new(py, &[]).get_type().call1((data,))?;
    let bytes = copy.downcast::<PyBytes>()?;
    StreamTransport::write_bytes(slf, bytes.as_bytes())
}
