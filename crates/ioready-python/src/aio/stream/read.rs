//! Reading: asyncio's `_read_ready__data_received` and
//! `_read_ready__get_buffer`, natively.
//!
//! A `Protocol` gets `data_received(bytes)` from one `recv` into the loop's
//! reused 256 KiB buffer (one bytes object of the size received, where
//! asyncio allocates 256 KiB per receive and shrinks it); a
//! `BufferedProtocol` gets its own buffer filled by the `recv` itself.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::sys;
use super::{StreamTransport, MAX_SIZE};
use crate::aio::transport_common::protocol_error;

impl StreamTransport {
    /// The reader callback (see the module).
    pub(super) fn read_ready(slf: &Bound<'_, StreamTransport>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (buffered, on_data, on_filled, loop_) = {
            let state = this.state.get(py)?;
            if state.conn_lost > 0 {
                return Ok(());
            }
            let (Some(on_data), Some(loop_)) = (&state.on_data, &state.core) else {
                return Ok(());
            };
            (
                state.buffered,
                on_data.clone_ref(py),
                state.on_filled.as_ref().map(|o| o.clone_ref(py)),
                loop_.clone_ref(py),
            )
        };
        if buffered {
            return StreamTransport::read_into_protocol(slf, on_data.bind(py), on_filled);
        }
        let core = loop_.bind(py);
        let received = {
            let mut buf = core.get().read_buf.get_mut(py)?;
            if buf.len() < MAX_SIZE {
                buf.resize(MAX_SIZE, 0);
            }
            sys::recv(this.fd, &mut buf).map(|n| PyBytes::new(py, &buf[..n]))
        };
        let data = match received {
            Err(e) if sys::is_retry(&e) => return Ok(()),
            Err(e) => {
                return protocol_error(slf, e.into(), "Fatal read error on socket transport");
            }
            Ok(data) => data,
        };
        if data.as_bytes().is_empty() {
            slf.call_method0("_read_ready__on_eof")?;
            return Ok(());
        }
        match on_data.bind(py).call1((data,)) {
            Ok(_) => Ok(()),
            Err(err) => protocol_error(
                slf,
                err,
                "Fatal error: protocol.data_received() call failed.",
            ),
        }
    }

    /// `_read_ready__get_buffer`: `get_buffer(-1)`, one receive into it,
    /// `buffer_updated(n)`.
    fn read_into_protocol(
        slf: &Bound<'_, StreamTransport>,
        get_buffer: &Bound<'_, PyAny>,
        on_filled: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let Some(on_filled) = on_filled else {
            return Ok(());
        };
        const GET_BUFFER_FAILED: &str = "Fatal error: protocol.get_buffer() call failed.";
        let buf = match get_buffer.call1((-1,)) {
            Ok(buf) => buf,
            Err(err) => return protocol_error(slf, err, GET_BUFFER_FAILED),
        };
        match buf.len() {
            Ok(0) => {
                let err = PyRuntimeError::new_err("get_buffer() returned an empty buffer");
                return protocol_error(slf, err, GET_BUFFER_FAILED);
            }
            Ok(_) => {}
            Err(err) => return protocol_error(slf, err, GET_BUFFER_FAILED),
        }
        let received = receive_into(slf, &buf);
        let n = match received {
            Ok(n) => n,
            Err(err)
                if err.is_instance_of::<pyo3::exceptions::PyBlockingIOError>(py)
                    || err.is_instance_of::<pyo3::exceptions::PyInterruptedError>(py) =>
            {
                return Ok(());
            }
            Err(err) => {
                return protocol_error(slf, err, "Fatal read error on socket transport");
            }
        };
        if n == 0 {
            slf.call_method0("_read_ready__on_eof")?;
            return Ok(());
        }
        match on_filled.bind(py).call1((n,)) {
            Ok(_) => Ok(()),
            Err(err) => protocol_error(
                slf,
                err,
                "Fatal error: protocol.buffer_updated() call failed.",
            ),
        }
    }
}

/// One `recv` straight into the memory of a writable buffer object.
#[cfg(any(not(Py_LIMITED_API), Py_3_11))]
fn receive_into(slf: &Bound<'_, StreamTransport>, buf: &Bound<'_, PyAny>) -> PyResult<usize> {
    let fd = slf.get().fd;
    crate::ffi::buffer::with_bytes(buf, true, |bytes| sys::recv(fd, bytes))?.map_err(PyErr::from)
}

/// `sock.recv_into(buf)`: the stable ABI before 3.11 has no buffer protocol.
#[cfg(not(any(not(Py_LIMITED_API), Py_3_11)))]
fn receive_into(slf: &Bound<'_, StreamTransport>, buf: &Bound<'_, PyAny>) -> PyResult<usize> {
    let sock = slf.getattr("_sock")?;
    sock.call_method1("recv_into", (buf,))?.extract()
}
