//! Writing: asyncio's `write` and `_write_ready`, natively, with the
//! writes of one loop turn sent together.
//!
//! During a turn of the loop (its callbacks running), `write` on a
//! transport with nothing buffered appends to the buffer and puts the
//! transport on the loop's list; at the end of the turn the loop sends each
//! listed buffer in one `send` ([`flush_turn`]), so a protocol writing
//! headers and body separately (uvicorn's) costs one system call, not two.
//! Outside a turn, and for a write larger than the high-water mark, the
//! socket is tried at once, as asyncio does. What asyncio code can observe
//! stays asyncio's: `get_write_buffer_size` (and so `close`, `abort`,
//! `write_eof`, flow control, all of which ask it) first sends what waits
//! for the end of the turn, then answers; what has waited never exceeds the
//! high-water mark (more is sent at once), so `pause_writing` comes exactly
//! when asyncio's would, from what the socket refused.
//!
//! What the socket refuses stays buffered and the writer is registered;
//! `_write_ready` sends the whole buffer in one call. Flow control
//! (`pause_writing` above the high-water mark, `resume_writing` at the low
//! one) goes through asyncio's own `_maybe_pause_protocol`/
//! `_maybe_resume_protocol`, called only when a mark is crossed.

use std::sync::atomic::Ordering;

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
    /// The bytes kept for the end of the turn passed the high-water mark:
    /// sent now.
    FlushNow,
}

/// One `send` of the whole buffer: what follows.
fn send_buffer(fd: std::os::fd::RawFd, state: &mut super::StreamState) -> Step {
    match sys::send(fd, &state.wbuf[state.wpos..]) {
        Ok(n) if n == state.pending() => {
            state.wbuf.clear();
            state.wpos = 0;
            Step::Done
        }
        Ok(n) => {
            state.wpos += n;
            Step::Register
        }
        Err(e) if sys::is_retry(&e) => Step::Register,
        Err(e) => {
            // asyncio drops what a failed write held.
            state.wbuf.clear();
            state.wpos = 0;
            Step::Failed(e)
        }
    }
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
            let st = &mut *state;
            if st.pending() == 0 {
                // The hot path: kept for the end of the turn, with no
                // system call and no reference taken but the list's.
                let core = st
                    .core
                    .as_ref()
                    .filter(|c| c.get().in_turn.load(Ordering::Relaxed));
                if let Some(core) = core.filter(|_| data.len() <= st.high_water) {
                    st.wbuf.extend_from_slice(data);
                    st.queued = true;
                    if !st.listed {
                        st.listed = true;
                        core.get().flush.get_mut(py)?.push(slf.clone().unbind());
                    }
                    return Ok(());
                }
                match sys::send(this.fd, data) {
                    Ok(n) if n == data.len() => return Ok(()),
                    Ok(n) => {
                        st.wbuf.extend_from_slice(&data[n..]);
                        Step::Register
                    }
                    Err(e) if sys::is_retry(&e) => {
                        st.wbuf.extend_from_slice(data);
                        Step::Register
                    }
                    Err(e) => Step::Failed(e),
                }
            } else if st.queued {
                st.wbuf.extend_from_slice(data);
                if st.pending() <= st.high_water {
                    return Ok(());
                }
                Step::FlushNow
            } else {
                st.wbuf.extend_from_slice(data);
                Step::Buffered
            }
        };
        StreamTransport::after_write(slf, step)
    }

    /// What a write, or the flush of a turn's writes, does after touching
    /// the socket.
    fn after_write(slf: &Bound<'_, StreamTransport>, step: Step) -> PyResult<()> {
        let py = slf.py();
        match step {
            Step::Done => Ok(()),
            Step::Failed(e) => {
                protocol_error(slf, e.into(), "Fatal write error on socket transport")
            }
            Step::Register => {
                let loop_ = slf.getattr("_loop")?;
                let core = loop_.downcast::<LoopCore>()?;
                let callback = slf.getattr("_write_ready")?;
                let fd = slf.get().fd.into_pyobject(py)?;
                LoopCore::add_watch(core, &fd, &callback, &PyTuple::empty(py), EVENT_WRITE)?;
                StreamTransport::maybe_pause(slf)
            }
            Step::Buffered => StreamTransport::maybe_pause(slf),
            Step::FlushNow => StreamTransport::flush_queued(slf, false),
        }
    }

    /// Sends what was kept for the end of the turn, if anything was: one
    /// `send` of the buffer; what the socket refuses stays buffered, with
    /// the writer registered (as a refused write in asyncio). `unlist`:
    /// called by the loop's flush, which took the transport off its list.
    pub(super) fn flush_queued(slf: &Bound<'_, StreamTransport>, unlist: bool) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let step = {
            let mut state = this.state.get_mut(py)?;
            if unlist {
                state.listed = false;
            }
            if !state.queued {
                return Ok(());
            }
            state.queued = false;
            if state.conn_lost > 0 || state.pending() == 0 {
                return Ok(());
            }
            send_buffer(this.fd, &mut state)
        };
        StreamTransport::after_write(slf, step)
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

/// Sends the writes of the turn that just ended: each listed transport's
/// buffer in one `send` (see the module). Every listed transport is
/// flushed even if one of them raises (the first error is returned).
///
/// # Errors
///
/// `SystemExit`/`KeyboardInterrupt` from a protocol callback, or what the
/// transport's fatal-error path raises.
pub(crate) fn flush_turn(core: &LoopCore, py: Python<'_>) -> PyResult<()> {
    let mut batch = std::mem::take(&mut *core.flush.get_mut(py)?);
    if batch.is_empty() {
        return Ok(());
    }
    let mut result = Ok(());
    for transport in batch.drain(..) {
        let flushed = StreamTransport::flush_queued(transport.bind(py), true);
        if result.is_ok() {
            result = flushed;
        }
        drop(transport);
    }
    // The emptied list, capacity kept, goes back if nothing was listed
    // meanwhile: no allocation per turn.
    let mut list = core.flush.get_mut(py)?;
    if list.is_empty() {
        std::mem::swap(&mut *list, &mut batch);
    }
    result
}
