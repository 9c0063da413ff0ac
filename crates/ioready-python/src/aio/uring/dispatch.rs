//! The completions, reported: each reaped completion goes to the transport
//! or listener its `user_data` names (if the generation still matches),
//! one at a time, the engine borrowed only between the Python calls.
//!
//! * a receive: the provided buffer is copied out (into the `bytes` handed
//!   to `data_received`, or into the buffers a `BufferedProtocol`'s
//!   `get_buffer` gives) and given back to the kernel at once, so the
//!   buffer ring stays full; while reading is paused, into the
//!   connection's stash. A receive that ends (no `F_MORE`: a dry buffer
//!   ring, a completion queue overflow) is armed again when the transport
//!   still reads;
//! * a send: the rest of a short send is sent; when everything is,
//!   writing's flow control, `write_eof` and a pending close complete;
//! * an accept: the new descriptor goes to the listener's Python callback.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::engine::{more, Cqe, UringEngine};
use super::slots::{pack, unpack, Entry, Kind};
use super::transport::{protocol_error, UringTransport};
use crate::aio::core::LoopCore;

/// What a completion asks of Python, decided with the engine borrowed.
enum Step {
    None,
    /// Received bytes, for `data_received` (or a buffered protocol).
    Data(Py<UringTransport>, Vec<u8>),
    Bytes(Py<UringTransport>, Py<PyBytes>),
    Eof(Py<UringTransport>),
    ReadError(Py<UringTransport>, i32),
    /// Bytes still to send, and whether the socket refused some.
    Sent(Py<UringTransport>, usize, bool),
    WriteError(Py<UringTransport>, i32),
    Accepted(Py<PyAny>, i32, bool),
}

/// Dispatches every queued completion (after the turn's callbacks, as
/// asyncio runs I/O callbacks after the handles queued before the wait).
///
/// # Errors
///
/// `SystemExit`/`KeyboardInterrupt` from a protocol callback (the
/// completions not yet dispatched stay queued for the next turn).
pub(crate) fn dispatch(slf: &Bound<'_, LoopCore>) -> PyResult<usize> {
    let py = slf.py();
    let core = slf.get();
    let mut n = 0;
    loop {
        let step = {
            let mut guard = core.uring.get_mut(py)?;
            let Some(engine) = guard.as_mut() else {
                return Ok(n);
            };
            let Some(cqe) = engine.io.cqes.pop_front() else {
                break;
            };
            decide(py, engine, cqe)?
        };
        n += 1;
        if let Err(e) = run(py, step) {
            report(slf, e)?;
        }
    }
    Ok(n)
}

/// An exception out of a completion's Python work that its own handling
/// did not take (the protocol's callbacks' go to `_fatal_error`, as
/// asyncio's): the loop's exception handler gets it and the loop goes on,
/// as for an exception out of a callback's handle; `SystemExit` and
/// `KeyboardInterrupt` propagate (asyncio's rule).
fn report(slf: &Bound<'_, LoopCore>, e: PyErr) -> PyResult<()> {
    let py = slf.py();
    if !e.is_instance_of::<pyo3::exceptions::PyException>(py) {
        return Err(e);
    }
    let context = pyo3::types::PyDict::new(py);
    context.set_item("message", "Exception in an io_uring completion's callback")?;
    context.set_item("exception", e.into_value(py))?;
    slf.call_method1("call_exception_handler", (context,))?;
    Ok(())
}

/// The engine's part of one completion.
fn decide(py: Python<'_>, engine: &mut UringEngine, cqe: Cqe) -> PyResult<Step> {
    let Some((kind, gen, i)) = unpack(cqe.user_data) else {
        return Ok(Step::None);
    };
    let UringEngine { slots, io } = engine;
    match kind {
        Kind::Quiet | Kind::Selector => Ok(Step::None),
        Kind::Recv => {
            let Some(Entry::Conn(c)) = slots.get_mut(i, gen) else {
                // A completion of a slot freed since: give its buffer back.
                if let Some(bid) = io.bufs.claim(cqe.flags)? {
                    io.bufs.recycle(bid)?;
                }
                return Ok(Step::None);
            };
            let ended = !more(cqe.flags);
            if ended {
                c.recv_armed = false;
                io.armed_recvs = io.armed_recvs.saturating_sub(1);
            }
            let res = cqe.result;
            let step = if res > 0 {
                let Some(bid) = io.bufs.claim(cqe.flags)? else {
                    return Ok(Step::None);
                };
                let data = io.bufs.buf(bid, res as usize).unwrap_or_default();
                let step = match &c.transport {
                    Some(t) if c.reading && c.stash.is_empty() => {
                        let buffered = t.get().state.get(py)?.buffered;
                        if buffered {
                            Step::Data(t.clone_ref(py), data.to_vec())
                        } else {
                            Step::Bytes(t.clone_ref(py), PyBytes::new(py, data).unbind())
                        }
                    }
                    // Paused (the cancellation not yet effective), or older
                    // stashed data not yet delivered: keep the order.
                    Some(_) => {
                        c.stash.extend_from_slice(data);
                        Step::None
                    }
                    None => Step::None,
                };
                io.bufs.recycle(bid)?;
                step
            } else if res == 0 {
                match &c.transport {
                    Some(t) if c.reading && c.stash.is_empty() => Step::Eof(t.clone_ref(py)),
                    Some(_) => {
                        c.stash_eof = true;
                        Step::None
                    }
                    None => Step::None,
                }
            } else if res == -libc::ENOBUFS || res == -libc::ECANCELED {
                // The buffer ring ran dry (every buffer is given back as
                // soon as it is read), or a pause's cancellation, the
                // transport reading again since: armed again below.
                Step::None
            } else {
                match &c.transport {
                    Some(t) if c.reading => Step::ReadError(t.clone_ref(py), -res),
                    _ => Step::None,
                }
            };
            // A receive that ended (a dry buffer ring, a completion queue
            // overflow, a cancellation overtaken by a resume) is armed again
            // while the transport reads; not after the end of stream or an
            // error.
            let again = res > 0 || res == -libc::ENOBUFS || res == -libc::ECANCELED;
            if ended && again && c.reading && c.transport.is_some() {
                io.arm.push((i, gen));
            }
            if c.transport.is_none() && !c.in_flight() {
                slots.remove(i);
            }
            Ok(step)
        }
        Kind::Send => {
            // Accounted for at reap (`engine::sent`); here what Python does.
            let Some(Entry::Conn(c)) = slots.get_mut(i, gen) else {
                return Ok(Step::None);
            };
            let Some(t) = &c.transport else {
                return Ok(Step::None);
            };
            if c.send_error != 0 {
                let errno = std::mem::take(&mut c.send_error);
                return Ok(Step::WriteError(t.clone_ref(py), errno));
            }
            if cqe.result < 0 {
                return Ok(Step::None);
            }
            let pending = c.pending();
            if pending == 0 && c.shut_wr && !c.sending {
                c.shut_wr = false;
                // SAFETY: plain `shutdown` of the connection's descriptor,
                // still open (the transport has not released it).
                unsafe { libc::shutdown(c.fd, libc::SHUT_WR) };
            }
            Ok(Step::Sent(t.clone_ref(py), pending, c.refused()))
        }
        Kind::Accept => {
            let Some(Entry::Listener(l)) = slots.get_mut(i, gen) else {
                if cqe.result >= 0 {
                    // SAFETY: a descriptor accepted for a listener that is
                    // gone: ours alone, closed once.
                    unsafe { libc::close(cqe.result) };
                }
                return Ok(Step::None);
            };
            let ended = !more(cqe.flags);
            if ended {
                l.armed = false;
            }
            match &l.callback {
                Some(cb) => Ok(Step::Accepted(cb.clone_ref(py), cqe.result, ended)),
                None => {
                    if cqe.result >= 0 {
                        // SAFETY: as above: nobody will take it.
                        unsafe { libc::close(cqe.result) };
                    }
                    if ended {
                        slots.remove(i);
                    }
                    Ok(Step::None)
                }
            }
        }
    }
}

/// The Python part of one completion, in the transport's context (see
/// `UState::context`). asyncio runs a transport's read callbacks in its
/// reader handle's context and the end of a buffered write in its writer
/// handle's (copied at the write that had to wait); both are taken here
/// from where reading started, which holds the same values unless a
/// protocol changes a variable between the two.
fn run(py: Python<'_>, step: Step) -> PyResult<()> {
    let transport = match &step {
        Step::Data(t, _)
        | Step::Bytes(t, _)
        | Step::Eof(t)
        | Step::ReadError(t, _)
        | Step::Sent(t, _, _)
        | Step::WriteError(t, _) => Some(t),
        Step::None | Step::Accepted(..) => None,
    };
    let context = match transport {
        Some(t) => t
            .get()
            .state
            .get(py)?
            .context
            .as_ref()
            .map(|c| c.clone_ref(py)),
        None => None,
    };
    match context {
        Some(context) => crate::ffi::context::within(context.bind(py), || run_step(py, step)),
        None => run_step(py, step),
    }
}

/// `run`'s work, in whatever context is current.
fn run_step(py: Python<'_>, step: Step) -> PyResult<()> {
    match step {
        Step::None => Ok(()),
        Step::Bytes(t, data) => deliver_bytes(t.bind(py), data.into_bound(py)),
        Step::Data(t, data) => deliver(t.bind(py), &data),
        Step::Eof(t) => on_eof(t.bind(py)),
        Step::ReadError(t, errno) => {
            let err = std::io::Error::from_raw_os_error(errno);
            protocol_error(
                t.bind(py),
                err.into(),
                "Fatal read error on socket transport",
            )
        }
        Step::Sent(t, pending, refused) => on_sent(t.bind(py), pending, refused),
        Step::WriteError(t, errno) => {
            let t = t.bind(py);
            let exc = PyErr::from(std::io::Error::from_raw_os_error(errno)).into_value(py);
            t.call_method1(
                "_fatal_error",
                (&exc, "Fatal write error on socket transport"),
            )?;
            let waiter = t.getattr("_empty_waiter")?;
            if !waiter.is_none() && !waiter.call_method0("done")?.is_truthy()? {
                waiter.call_method1("set_exception", (exc,))?;
            }
            Ok(())
        }
        Step::Accepted(cb, res, ended) => {
            cb.bind(py).call1((res, ended))?;
            Ok(())
        }
    }
}

/// `data_received(bytes)`, unless the connection was lost meanwhile.
fn deliver_bytes(t: &Bound<'_, UringTransport>, data: Bound<'_, PyBytes>) -> PyResult<()> {
    let py = t.py();
    let on_data = {
        let state = t.get().state.get(py)?;
        if state.conn_lost > 0 {
            return Ok(());
        }
        match &state.on_data {
            Some(f) => f.clone_ref(py),
            None => return Ok(()),
        }
    };
    match on_data.bind(py).call1((data,)) {
        Ok(_) => Ok(()),
        Err(err) => protocol_error(t, err, "Fatal error: protocol.data_received() call failed."),
    }
}

/// Received bytes to the protocol: `data_received(bytes)`, or copied into
/// the buffers of a `BufferedProtocol` (`get_buffer(n)` until all is
/// taken, `buffer_updated` after each).
fn deliver(t: &Bound<'_, UringTransport>, data: &[u8]) -> PyResult<()> {
    let py = t.py();
    let (buffered, on_data, on_filled) = {
        let state = t.get().state.get(py)?;
        if state.conn_lost > 0 {
            return Ok(());
        }
        let Some(on_data) = &state.on_data else {
            return Ok(());
        };
        (
            state.buffered,
            on_data.clone_ref(py),
            state.on_filled.as_ref().map(|f| f.clone_ref(py)),
        )
    };
    if !buffered {
        return deliver_bytes(t, PyBytes::new(py, data));
    }
    let Some(on_filled) = on_filled else {
        return Ok(());
    };
    const GET_BUFFER_FAILED: &str = "Fatal error: protocol.get_buffer() call failed.";
    let mut rest = data;
    while !rest.is_empty() {
        if t.get().state.get(py)?.conn_lost > 0 {
            return Ok(());
        }
        let buf = match on_data.bind(py).call1((rest.len(),)) {
            Ok(buf) => buf,
            Err(err) => return protocol_error(t, err, GET_BUFFER_FAILED),
        };
        let n = match copy_into(&buf, rest) {
            Ok(0) => {
                let err = pyo3::exceptions::PyRuntimeError::new_err(
                    "get_buffer() returned an empty buffer",
                );
                return protocol_error(t, err, GET_BUFFER_FAILED);
            }
            Ok(n) => n,
            Err(err) => return protocol_error(t, err, GET_BUFFER_FAILED),
        };
        rest = &rest[n..];
        if let Err(err) = on_filled.bind(py).call1((n,)) {
            return protocol_error(
                t,
                err,
                "Fatal error: protocol.buffer_updated() call failed.",
            );
        }
    }
    Ok(())
}

/// Copies the head of `data` into a writable buffer object; how much.
#[cfg(any(not(Py_LIMITED_API), Py_3_11))]
fn copy_into(buf: &Bound<'_, PyAny>, data: &[u8]) -> PyResult<usize> {
    crate::ffi::buffer::with_bytes(buf, true, |bytes| {
        let n = bytes.len().min(data.len());
        bytes[..n].copy_from_slice(&data[..n]);
        n
    })
}

/// The stable ABI before 3.11 has no buffer protocol: through a
/// memoryview's slice assignment.
#[cfg(not(any(not(Py_LIMITED_API), Py_3_11)))]
fn copy_into(buf: &Bound<'_, PyAny>, data: &[u8]) -> PyResult<usize> {
    let py = buf.py();
    let view = py
        .get_type::<pyo3::types::PyMemoryView>()
        .call1((buf,))?
        .call_method1("cast", ("B",))?;
    let n = view.len()?.min(data.len());
    let slice = pyo3::types::PySlice::new(py, 0, n as isize, 1);
    view.set_item(slice, PyBytes::new(py, &data[..n]))?;
    Ok(n)
}

/// The end of stream: asyncio's `_read_ready__on_eof`.
fn on_eof(t: &Bound<'_, UringTransport>) -> PyResult<()> {
    if t.get().state.get(t.py())?.conn_lost > 0 {
        return Ok(());
    }
    t.call_method0("_read_ready__on_eof")?;
    Ok(())
}

/// A send finished (`pending` bytes still to send): writing's flow
/// control, then, with nothing left, the empty waiter, a pending close.
fn on_sent(t: &Bound<'_, UringTransport>, pending: usize, refused: bool) -> PyResult<()> {
    let py = t.py();
    let (paused, low, high, closing, conn_lost) = {
        let state = t.get().state.get(py)?;
        (
            state.protocol_paused,
            state.low_water,
            state.high_water,
            state.closing,
            state.conn_lost,
        )
    };
    if paused && pending <= low {
        t.call_method0("_maybe_resume_protocol")?;
    } else if !paused && refused && pending > high && conn_lost == 0 {
        // The socket took only part: what it refused counts, as in the
        // readiness transport.
        t.call_method0("_maybe_pause_protocol")?;
    }
    if pending > 0 {
        return Ok(());
    }
    // A send's bytes leave `pending` when it is reaped, before the turn's
    // callbacks; one of them (`loop.sendfile`'s `_make_empty_waiter`) may
    // then have found the buffer empty and resolved the waiter already.
    let waiter = t.getattr("_empty_waiter")?;
    if !waiter.is_none() && !waiter.call_method0("done")?.is_truthy()? {
        waiter.call_method1("set_result", (py.None(),))?;
    }
    if closing && conn_lost == 0 {
        t.call_method1("_call_connection_lost", (py.None(),))?;
    }
    Ok(())
}

/// What was stashed while paused, to the protocol (if reading again).
pub(crate) fn deliver_stash(t: &Bound<'_, UringTransport>) -> PyResult<()> {
    let py = t.py();
    let taken = t.get().with_conn(py, |c, _, _, _| {
        if !c.reading {
            return None;
        }
        let eof = std::mem::take(&mut c.stash_eof);
        Some((std::mem::take(&mut c.stash), eof))
    })?;
    let Some(Some((data, eof))) = taken else {
        return Ok(());
    };
    if !data.is_empty() {
        deliver(t, &data)?;
    }
    if eof {
        on_eof(t)?;
    }
    Ok(())
}

/// The transport lets go of slot `i`: its requests cancelled, the slot
/// freed now or at their last completion. What it held, to drop after
/// the engine's borrow.
pub(crate) fn release_conn(
    engine: &mut UringEngine,
    i: u32,
    gen: u32,
) -> PyResult<Option<Py<PyAny>>> {
    let UringEngine { slots, io } = engine;
    let Some(Entry::Conn(c)) = slots.get_mut(i, gen) else {
        return Ok(None);
    };
    let transport = c.transport.take().map(|t| t.into_any());
    c.reading = false;
    c.wbuf.clear();
    c.stash = Vec::new();
    if c.recv_armed {
        io.cancel(pack(Kind::Recv, gen, i))?;
    }
    if c.sending {
        io.cancel(pack(Kind::Send, gen, i))?;
    }
    if !c.in_flight() {
        slots.remove(i);
    }
    Ok(transport)
}

/// `loop._uring_serve(sock_fd, callback)`: a multishot accept on a
/// listening socket; `callback(fd_or_minus_errno, ended)` for each
/// completion. Its slot.
pub(crate) fn serve(
    core: &LoopCore,
    py: Python<'_>,
    fd: i32,
    callback: Py<PyAny>,
) -> PyResult<(u32, u32)> {
    let mut guard = core.uring.get_mut(py)?;
    let engine = guard.as_mut().ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err("the loop has no io_uring engine")
    })?;
    let slot = engine.slots.insert(Entry::Listener(super::slots::Listener {
        fd,
        callback: Some(callback),
        armed: false,
    }));
    engine.io.arm_accept.push(slot);
    Ok(slot)
}

/// Arms a listener's accept again (after a completion without `F_MORE`).
pub(crate) fn rearm(core: &LoopCore, py: Python<'_>, i: u32, gen: u32) -> PyResult<()> {
    let mut guard = core.uring.get_mut(py)?;
    if let Some(engine) = guard.as_mut() {
        if let Some(Entry::Listener(_)) = engine.slots.get_mut(i, gen) {
            engine.io.arm_accept.push((i, gen));
        }
    }
    Ok(())
}

/// Stops serving: the accept cancelled synchronously (the socket must
/// really close when asyncio closes it next), the slot freed.
pub(crate) fn unserve(
    core: &LoopCore,
    py: Python<'_>,
    i: u32,
    gen: u32,
) -> PyResult<Option<Py<PyAny>>> {
    let mut guard = core.uring.get_mut(py)?;
    let Some(engine) = guard.as_mut() else {
        return Ok(None);
    };
    let ring_fd = engine.ring_fd();
    let Some(Entry::Listener(l)) = engine.slots.get_mut(i, gen) else {
        return Ok(None);
    };
    let cb = l.callback.take();
    let armed = l.armed;
    engine.slots.remove(i);
    if armed {
        super::engine::sync_cancel(ring_fd, pack(Kind::Accept, gen, i))?;
        // With DEFER_TASKRUN the cancelled request is freed (and its file
        // let go of) by the task work of an enter: run it now.
        engine.poke()?;
    }
    Ok(cb)
}
