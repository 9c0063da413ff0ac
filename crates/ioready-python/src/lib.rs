//! `ioready_select`: CPython 3.11's `select` module for Linux, on the ioready
//! library.
//!
//! The module is a drop-in replacement: `select()`, `poll()` objects, `epoll`
//! objects, `error` (which is `OSError`) and every constant, with CPython's
//! argument handling, exceptions and messages. The waits are the library's
//! ([`ioready::SelectSets::select_once`], [`ioready::Poll::poll_once`],
//! [`ioready::Epoll::wait_once`]); this crate converts arguments, releases
//! the GIL while waiting and retries `EINTR` with the time that remains
//! (PEP 475), running Python's signal handlers between attempts.
//!
//! One difference on purpose: `select()` accepts descriptors numbered 1024
//! and above (CPython raises `ValueError`), since the library's `fd_set`s
//! grow to the highest descriptor.

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use ioready::{Deadline, EpollEvents, EpollFlags, PollFlags};
use pyo3::exceptions::{
    PyKeyError, PyOSError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyList, PyTuple};
use pyo3::Borrowed;
use smallvec::SmallVec;

// ---------------------------------------------------------------------------
// Argument conversions (CPython's, message for message)
// ---------------------------------------------------------------------------

/// `PyObject_AsFileDescriptor`: an `int`, or an object whose `fileno()`
/// returns one; CPython's `TypeError`/`ValueError`/`OverflowError` otherwise.
fn fileno(obj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    // SAFETY: `obj` is a live object and the GIL is held (we have a `Bound`).
    let fd = unsafe { ffi::PyObject_AsFileDescriptor(obj.as_ptr()) };
    if fd < 0 {
        // It never returns a negative number without an exception set.
        return Err(PyErr::fetch(obj.py()));
    }
    Ok(fd)
}

/// A descriptor argument (CPython's `fildes` converter).
struct FdArg(RawFd);

impl<'py> FromPyObject<'py> for FdArg {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        fileno(ob).map(FdArg)
    }
}

/// The `eventmask` of `poll.register`/`modify`: CPython's unsigned short
/// converter (ints only, `ValueError` if negative, `OverflowError` above
/// `USHRT_MAX`).
struct PollMask(u16);

impl<'py> FromPyObject<'py> for PollMask {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        // SAFETY: live object, GIL held.
        if unsafe { ffi::PyLong_Check(ob.as_ptr()) } == 0 {
            return Err(PyTypeError::new_err("an integer is required"));
        }
        if ob.lt(0)? {
            return Err(PyValueError::new_err("value must be positive"));
        }
        // SAFETY: `ob` is an int (checked above); GIL held.
        let v = unsafe { ffi::PyLong_AsUnsignedLong(ob.as_ptr()) };
        if v == std::ffi::c_ulong::MAX {
            if let Some(err) = PyErr::take(ob.py()) {
                return Err(err);
            }
        }
        u16::try_from(v)
            .map(PollMask)
            .map_err(|_| PyOverflowError::new_err("Python int too large for C unsigned short"))
    }
}

/// The `eventmask` of `epoll.register`/`modify`: an unsigned int taken
/// bitwise, as CPython's `I` format (`__index__` accepted, no range check).
struct EpollMask(u32);

impl<'py> FromPyObject<'py> for EpollMask {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        // SAFETY: live object, GIL held.
        let v = unsafe { ffi::PyLong_AsUnsignedLongMask(ob.as_ptr()) };
        if v == std::ffi::c_ulong::MAX {
            if let Some(err) = PyErr::take(ob.py()) {
                return Err(err);
            }
        }
        Ok(EpollMask(v as u32))
    }
}

/// A C `int` argument, converted as CPython's `_PyLong_AsInt` (`__index__`
/// accepted; its `OverflowError` message).
struct CInt(i32);

impl<'py> FromPyObject<'py> for CInt {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        // SAFETY: live object, GIL held; -1 with an exception set on error.
        let v = unsafe { ffi::PyLong_AsLong(ob.as_ptr()) };
        if v == -1 {
            if let Some(err) = PyErr::take(ob.py()) {
                return Err(err);
            }
        }
        i32::try_from(v)
            .map(CInt)
            .map_err(|_| PyOverflowError::new_err("Python int too large to convert to C int"))
    }
}

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_MS: i64 = 1_000_000;

/// CPython's `_PyTime_FromSecondsObject`/`_PyTime_FromMillisecondsObject`
/// with `_PyTime_ROUND_TIMEOUT`: a timeout object in `unit` (nanoseconds per
/// unit) as signed nanoseconds. `type_msg` replaces any `TypeError`.
fn timeout_ns(obj: &Bound<'_, PyAny>, unit: i64, type_msg: &'static str) -> PyResult<i64> {
    if let Ok(f) = obj.downcast::<PyFloat>() {
        let d = f.value();
        if d.is_nan() {
            return Err(PyValueError::new_err("Invalid value NaN (not a number)"));
        }
        let d = d * unit as f64;
        // ROUND_UP: away from zero, so a tiny timeout never becomes 0.
        let d = if d >= 0.0 { d.ceil() } else { d.floor() };
        // The range of an i64, exactly as doubles express it: [-2^63, 2^63).
        let limit = -(i64::MIN as f64);
        if !(-limit..limit).contains(&d) {
            return Err(PyOverflowError::new_err(
                "timestamp out of range for platform time_t",
            ));
        }
        return Ok(d as i64);
    }
    // SAFETY: live object, GIL held; `PyLong_AsLongLong` accepts any object
    // (it calls `__index__`) and reports failure as -1 with an exception.
    let v = unsafe { ffi::PyLong_AsLongLong(obj.as_ptr()) };
    if v == -1 {
        if let Some(err) = PyErr::take(obj.py()) {
            let py = obj.py();
            if err.is_instance_of::<PyOverflowError>(py) {
                return Err(too_large_timestamp());
            }
            if err.is_instance_of::<PyTypeError>(py) {
                return Err(PyTypeError::new_err(type_msg));
            }
            return Err(err);
        }
    }
    v.checked_mul(unit).ok_or_else(too_large_timestamp)
}

fn too_large_timestamp() -> PyErr {
    PyOverflowError::new_err("timestamp too large to convert to C _PyTime_t")
}

/// `t / k` rounded up (towards +infinity), as `_PyTime_ROUND_CEILING`.
fn div_ceiling(t: i64, k: i64) -> i64 {
    let q = t / k;
    if t % k > 0 {
        q + 1
    } else {
        q
    }
}

/// `t / k` rounded away from zero, as `_PyTime_ROUND_UP` (the timeout mode).
fn div_up(t: i64, k: i64) -> i64 {
    let q = t / k;
    match t % k {
        0 => q,
        r if r > 0 => q + 1,
        _ => q - 1,
    }
}

/// A remaining time rounded up to whole milliseconds (poll and epoll take
/// milliseconds; CPython recomputes with `_PyTime_ROUND_CEILING`).
fn ceil_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A remaining time rounded up to whole microseconds (select's `timeval`).
fn ceil_us(d: Duration) -> Duration {
    let us = d.as_nanos().div_ceil(1_000);
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}

/// A millisecond timeout for `poll`/`epoll_wait`: out of `int` range is
/// CPython's `OverflowError`; negative means block.
fn ms_timeout(ms: i64) -> PyResult<Option<Duration>> {
    if ms < i64::from(i32::MIN) || ms > i64::from(i32::MAX) {
        return Err(PyOverflowError::new_err("timeout is too large"));
    }
    Ok(u64::try_from(ms).ok().map(Duration::from_millis))
}

// ---------------------------------------------------------------------------
// Errors and the wait loop
// ---------------------------------------------------------------------------

/// `OSError(errno, strerror)`, as `PyErr_SetFromErrno`: Python picks the
/// subclass from the errno (`FileExistsError` for `EEXIST`, ...).
fn errno_error(code: i32) -> PyErr {
    let text = io::Error::from_raw_os_error(code).to_string();
    let suffix = format!(" (os error {code})");
    let msg = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    PyOSError::new_err((code, msg))
}

/// An error of the library as the Python exception CPython raises.
fn os_error(err: io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => errno_error(code),
        None => PyOSError::new_err(err.to_string()),
    }
}

/// Locks a mutex, ignoring poisoning (a panic cannot leave these states
/// half-updated in a way that matters more than refusing all further calls).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The GIL released for as long as this value lives (`PyEval_SaveThread`,
/// then `PyEval_RestoreThread` on drop, also when unwinding).
///
/// Used instead of PyO3's `allow_threads` on the hot paths: it is the two
/// calls CPython's `Py_BEGIN/END_ALLOW_THREADS` make, without PyO3's
/// bookkeeping around them. Only plain Rust (a syscall) runs while it lives:
/// `wait_with_signals` requires the work to be `Send`, so no Python object
/// can be used in it.
struct GilReleased(*mut ffi::PyThreadState);

impl GilReleased {
    /// # Safety
    ///
    /// The calling thread must hold the GIL, and must not use the Python
    /// API until the value is dropped.
    unsafe fn new() -> Self {
        // SAFETY: the caller holds the GIL (see above).
        GilReleased(unsafe { ffi::PyEval_SaveThread() })
    }
}

impl Drop for GilReleased {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the thread state `PyEval_SaveThread` returned
        // on this thread, restored exactly once.
        unsafe { ffi::PyEval_RestoreThread(self.0) };
    }
}

/// Runs `attempt` with the GIL released until it ends otherwise than by
/// `EINTR` (PEP 475). Between attempts the Python signal handlers run (an
/// exception they raise propagates) and the timeout becomes what remains of
/// `deadline`, rounded up by `round`. `Ok(None)`: the deadline passed while
/// retrying (CPython then returns "nothing ready").
fn wait_with_signals<T, F>(
    py: Python<'_>,
    first: Option<Duration>,
    deadline: Option<Deadline>,
    round: fn(Duration) -> Duration,
    mut attempt: F,
) -> PyResult<Option<T>>
where
    T: Send,
    F: FnMut(Option<Duration>) -> io::Result<T> + Send,
{
    let mut timeout = first;
    loop {
        let result = {
            // SAFETY: `py` proves the GIL is held; `attempt` is `Send` (it
            // holds no Python object) and the GIL is back when the guard
            // drops, before anything else here runs.
            let _released = unsafe { GilReleased::new() };
            attempt(timeout)
        };
        match result {
            Ok(v) => return Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                match after_eintr(py, deadline.as_ref(), round)? {
                    Some(next) => timeout = next.or(timeout),
                    None => return Ok(None),
                }
            }
            Err(e) => return Err(os_error(e)),
        }
    }
}

/// What to do after an attempt ended with `EINTR` (PEP 475): run Python's
/// signal handlers (their exception propagates), then `Ok(None)` if the
/// deadline has passed (CPython then returns "nothing ready"), or
/// `Ok(Some(t))`: the next attempt's timeout, what remains rounded up by
/// `round` (`Some(None)`: keep the current one, as for an infinite wait).
fn after_eintr(
    py: Python<'_>,
    deadline: Option<&Deadline>,
    round: fn(Duration) -> Duration,
) -> PyResult<Option<Option<Duration>>> {
    py.check_signals()?;
    Ok(match deadline.map(Deadline::remaining) {
        Some(Some(left)) if left.is_zero() => None,
        Some(Some(left)) => Some(Some(round(left))),
        _ => Some(None),
    })
}

// ---------------------------------------------------------------------------
// Raw entry points (METH_FASTCALL)
// ---------------------------------------------------------------------------
//
// `select()` and `poll.poll()` are the calls made in loops: they are
// registered as plain `METH_FASTCALL` C functions, as Argument Clinic does
// in CPython, instead of through PyO3's generic argument extraction (about
// 200 instructions per call). They check the argument count with CPython's
// messages and otherwise run the same code as everything else.

/// Runs the body of a raw entry point: its error is set as the Python
/// exception (and NULL returned); a panic becomes PyO3's `PanicException`
/// instead of unwinding into C.
///
/// # Safety
///
/// Called by CPython, with the GIL held.
unsafe fn entry<F>(body: F) -> *mut ffi::PyObject
where
    F: for<'py> FnOnce(Python<'py>) -> PyResult<*mut ffi::PyObject>,
{
    // SAFETY: CPython calls C functions with the GIL held.
    let py = unsafe { Python::assume_gil_acquired() };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(py))) {
        Ok(Ok(obj)) => obj,
        Ok(Err(err)) => {
            err.restore(py);
            std::ptr::null_mut()
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic from Rust code".to_owned());
            pyo3::panic::PanicException::new_err(msg).restore(py);
            std::ptr::null_mut()
        }
    }
}

/// CPython's `_PyArg_CheckPositional` error: `"select expected at least 3
/// arguments, got 2"`.
fn arg_count_error(name: &str, nargs: isize, min: isize, max: isize) -> PyErr {
    let (bound, n) = if nargs < min {
        (if min == max { "" } else { "at least " }, min)
    } else {
        (if min == max { "" } else { "at most " }, max)
    };
    let s = if n == 1 { "" } else { "s" };
    PyTypeError::new_err(format!(
        "{name} expected {bound}{n} argument{s}, got {nargs}"
    ))
}

/// Argument `i` of a fastcall vector, borrowed for the call.
///
/// # Safety
///
/// `args` must point to at least `i + 1` live objects, as CPython passes
/// them, for the lifetime `'a`.
unsafe fn arg<'a, 'py>(
    py: Python<'py>,
    args: *mut *mut ffi::PyObject,
    i: usize,
) -> Borrowed<'a, 'py, PyAny> {
    // SAFETY: see above.
    unsafe { Borrowed::from_ptr(py, *args.add(i)) }
}

/// A `PyMethodDef` in a `static` (it holds raw pointers, to 'static data).
struct MethodDef(ffi::PyMethodDef);

// SAFETY: the definition is never written after it is built; its pointers
// are to `'static` strings and functions.
unsafe impl Sync for MethodDef {}

impl MethodDef {
    fn as_ptr(&'static self) -> *mut ffi::PyMethodDef {
        // CPython takes `PyMethodDef *` but never writes through it.
        std::ptr::from_ref(&self.0).cast_mut()
    }
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// A new list of `(fd, events)` tuples, built directly (one allocation per
/// object, as CPython's own module does).
fn pair_list<'py>(
    py: Python<'py>,
    pairs: impl ExactSizeIterator<Item = (i64, i64)>,
) -> PyResult<Bound<'py, PyList>> {
    let n = pairs.len();
    // SAFETY: GIL held. `PyList_New(n)` returns a new list with `n` NULL
    // slots (or NULL with an exception); the `Bound` owns it from here, so
    // an early return drops it (list_dealloc skips NULL slots). Each slot
    // `i < n` is filled exactly once with a new reference it steals; the
    // iterator is exact-size, and `take(n)` makes sure no index is past the
    // end; a list left with empty slots is never returned.
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n as ffi::Py_ssize_t))?;
        let mut filled = 0;
        for (i, (a, b)) in pairs.take(n).enumerate() {
            let tuple = ffi::PyTuple_New(2);
            if tuple.is_null() {
                return Err(PyErr::fetch(py));
            }
            // The tuple is owned by the list from here (freed with it).
            ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, tuple);
            for (j, v) in [(0, a), (1, b)] {
                // `PyLong_FromLong`, as CPython's module: the shorter path
                // (`long` is 64 bits on 64-bit Linux: the test folds away).
                let item = match std::ffi::c_long::try_from(v) {
                    Ok(v) => ffi::PyLong_FromLong(v),
                    Err(_) => ffi::PyLong_FromLongLong(v),
                };
                if item.is_null() {
                    return Err(PyErr::fetch(py));
                }
                ffi::PyTuple_SET_ITEM(tuple, j, item);
            }
            filled += 1;
        }
        if filled != n {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "poll: fewer results than announced",
            ));
        }
        Ok(list.downcast_into_unchecked())
    }
}

// ---------------------------------------------------------------------------
// select()
// ---------------------------------------------------------------------------

/// Inline room for the descriptors of one `select()` call: the common case
/// (a few sockets) allocates nothing for them.
const INLINE: usize = 8;

/// CPython's `seq2set`: the objects of one argument and their descriptors,
/// each descriptor also inserted with `insert` (into one of the sets).
fn collect<'py>(
    seq: &Bound<'py, PyAny>,
    objs: &mut SmallVec<[Bound<'py, PyAny>; INLINE]>,
    fds: &mut SmallVec<[RawFd; INLINE]>,
    mut insert: impl FnMut(RawFd) -> io::Result<()>,
) -> PyResult<()> {
    let py = seq.py();
    // SAFETY: GIL held; the message is a NUL-terminated static string;
    // `PySequence_Fast` returns a new reference to a list or tuple, or NULL
    // with an exception set.
    let fast = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PySequence_Fast(seq.as_ptr(), c"arguments 1-3 must be sequences".as_ptr()),
        )?
    };
    let mut add = |obj: Bound<'py, PyAny>| -> PyResult<()> {
        let fd = fileno(&obj)?;
        insert(fd).map_err(os_error)?;
        fds.push(fd);
        objs.push(obj);
        Ok(())
    };
    if let Ok(list) = fast.downcast::<PyList>() {
        // The length is read again at every step: `fileno()` may shrink the
        // list, and CPython then stops early (test_select_mutated).
        let mut i = 0;
        while i < list.len() {
            // SAFETY: GIL held; `i` is below the list's current length, so
            // the slot holds a live object (borrowed), of which
            // `from_borrowed_ptr` takes a new reference.
            let obj = unsafe {
                Bound::from_borrowed_ptr(
                    py,
                    ffi::PyList_GET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t),
                )
            };
            add(obj)?;
            i += 1;
        }
    } else {
        for obj in fast.downcast::<PyTuple>()?.iter() {
            add(obj)?;
        }
    }
    Ok(())
}

/// The objects whose descriptor `ready` says is ready, as a new list (built
/// directly: counted, then filled, as CPython's `set2list`). With `all`,
/// every object is known to be ready and none is looked up.
fn ready_list<'py>(
    py: Python<'py>,
    objs: &[Bound<'py, PyAny>],
    fds: &[RawFd],
    all: bool,
    ready: impl Fn(RawFd) -> bool,
) -> PyResult<Bound<'py, PyList>> {
    let is_ready = |fd: &RawFd| all || ready(*fd);
    let n = if all {
        fds.len()
    } else {
        fds.iter().filter(|fd| ready(**fd)).count()
    };
    // SAFETY: GIL held. `PyList_New(n)` returns a new list with `n` NULL
    // slots (or NULL with an exception), owned by the `Bound` from here on;
    // slot `j < n` is set once (`take(n)`), with a new reference that it
    // steals. The second pass asks the same unchanged sets as the first, so
    // it fills every slot; if it did not, the list is not returned (dropping
    // it is safe: list_dealloc skips NULL slots).
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n as ffi::Py_ssize_t))?;
        let mut filled = 0;
        let at = fds.iter().zip(objs).filter(|(fd, _)| is_ready(fd));
        for (j, (_, obj)) in at.take(n).enumerate() {
            ffi::PyList_SET_ITEM(list.as_ptr(), j as ffi::Py_ssize_t, obj.clone().into_ptr());
            filled += 1;
        }
        if filled != n {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "select: ready set changed while building the result",
            ));
        }
        Ok(list.downcast_into_unchecked())
    }
}

/// `select.__doc__`, with the text signature CPython's has.
const SELECT_DOC: &std::ffi::CStr = c"select($module, rlist, wlist, xlist, timeout=None, /)
--

Wait until one or more file descriptors are ready for some kind of I/O.

The first three arguments are iterables of file descriptors to be waited for:
rlist -- wait until ready for reading
wlist -- wait until ready for writing
xlist -- wait for an \"exceptional condition\"
If only one kind of condition is required, pass [] for the other lists.

A file descriptor is either a socket or file object, or a small integer
gotten from a fileno() method call on one of those.

The optional 4th argument specifies a timeout in seconds; it may be
a floating point number to specify fractions of seconds.  If it is absent
or None, the call will never time out.

The return value is a tuple of three lists corresponding to the first three
arguments; each contains the subset of the corresponding file descriptors
that are ready.

Unlike CPython's, descriptors numbered 1024 and above are accepted.";

static SELECT_DEF: MethodDef = MethodDef(ffi::PyMethodDef {
    ml_name: c"select".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer {
        PyCFunctionFast: select_fast,
    },
    ml_flags: ffi::METH_FASTCALL,
    ml_doc: SELECT_DOC.as_ptr(),
});

/// `select(rlist, wlist, xlist, timeout=None, /)`: the raw entry point.
unsafe extern "C" fn select_fast(
    _module: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments at
    // `args`, alive for the call (borrowed references).
    unsafe {
        entry(|py| {
            if !(3..=4).contains(&nargs) {
                return Err(arg_count_error("select", nargs, 3, 4));
            }
            let timeout = if nargs == 4 {
                Some(arg(py, args, 3))
            } else {
                None
            };
            select(
                py,
                &arg(py, args, 0),
                &arg(py, args, 1),
                &arg(py, args, 2),
                timeout.as_deref().filter(|t| !t.is_none()),
            )
            .map(Bound::into_ptr)
        })
    }
}

/// `select()`; `timeout` is `None` for an absent or `None` timeout.
fn select<'py>(
    py: Python<'py>,
    rlist: &Bound<'py, PyAny>,
    wlist: &Bound<'py, PyAny>,
    xlist: &Bound<'py, PyAny>,
    timeout: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let timeout = match timeout {
        None => None,
        Some(t) => {
            let ns = timeout_ns(t, NS_PER_SEC, "timeout must be a float or None")?;
            if ns < 0 {
                return Err(PyValueError::new_err("timeout must be non-negative"));
            }
            // A timeval: microseconds, rounded up.
            Some(Duration::from_micros(div_up(ns, 1_000) as u64))
        }
    };
    let mut objs: SmallVec<[Bound<'py, PyAny>; INLINE]> = SmallVec::new();
    let mut fds: SmallVec<[RawFd; INLINE]> = SmallVec::new();
    let mut sets = ioready::SelectSets::new();
    collect(rlist, &mut objs, &mut fds, |fd| sets.insert_read(fd))?;
    let nr = fds.len();
    collect(wlist, &mut objs, &mut fds, |fd| sets.insert_write(fd))?;
    let nw = fds.len();
    collect(xlist, &mut objs, &mut fds, |fd| sets.insert_except(fd))?;

    let deadline = timeout.map(|t| Deadline::after(Some(t)));
    // `wait_with_signals` by hand: the sets are filled once and, after an
    // interrupted attempt (which empties them), filled again from `fds`.
    let mut t = timeout;
    let ready = loop {
        let result = {
            // SAFETY: `py` proves the GIL is held; only the syscall on plain
            // descriptor numbers runs until the guard drops.
            let _released = unsafe { GilReleased::new() };
            sets.select_once(t)
        };
        match result {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                match after_eintr(py, deadline.as_ref(), ceil_us)? {
                    Some(next) => {
                        t = next.or(t);
                        refill(&mut sets, &fds, nr, nw).map_err(os_error)?;
                    }
                    None => {
                        let empty = || PyList::empty(py);
                        return result_tuple(py, [empty(), empty(), empty()]);
                    }
                }
            }
            Err(e) => return Err(os_error(e)),
        }
    };
    // The kernel counts each ready (set, descriptor) pair once, and there
    // are at most as many pairs as objects: a count equal to the number of
    // objects means no duplicate and every object ready.
    let all = ready == fds.len();
    let (objs, fds) = (&objs[..], &fds[..]);
    let lists = [
        ready_list(py, &objs[..nr], &fds[..nr], all, |fd| sets.is_readable(fd))?,
        ready_list(py, &objs[nr..nw], &fds[nr..nw], all, |fd| {
            sets.is_writable(fd)
        })?,
        ready_list(py, &objs[nw..], &fds[nw..], all, |fd| {
            sets.is_exceptional(fd)
        })?,
    ];
    result_tuple(py, lists)
}

/// Fills `sets` again from the descriptors of one `select()` call (readers
/// before `nr`, writers before `nw`, then the exceptional ones).
fn refill(sets: &mut ioready::SelectSets, fds: &[RawFd], nr: usize, nw: usize) -> io::Result<()> {
    sets.clear();
    for (i, &fd) in fds.iter().enumerate() {
        if i < nr {
            sets.insert_read(fd)?;
        } else if i < nw {
            sets.insert_write(fd)?;
        } else {
            sets.insert_except(fd)?;
        }
    }
    Ok(())
}

/// `(rlist, wlist, xlist)`, built directly.
fn result_tuple<'py>(
    py: Python<'py>,
    lists: [Bound<'py, PyList>; 3],
) -> PyResult<Bound<'py, PyTuple>> {
    // SAFETY: GIL held; `PyTuple_New(3)` returns a new tuple with 3 NULL
    // slots (or NULL with an exception), owned by the `Bound`; each slot is
    // set once with a new reference, which it steals.
    unsafe {
        let tuple = Bound::from_owned_ptr_or_err(py, ffi::PyTuple_New(3))?;
        for (i, list) in lists.into_iter().enumerate() {
            ffi::PyTuple_SET_ITEM(tuple.as_ptr(), i as ffi::Py_ssize_t, list.into_ptr());
        }
        Ok(tuple.downcast_into_unchecked())
    }
}

// ---------------------------------------------------------------------------
// poll()
// ---------------------------------------------------------------------------

const DEFAULT_POLL_MASK: u16 = PollFlags::IN.bits() | PollFlags::PRI.bits() | PollFlags::OUT.bits();

/// Returns a polling object, that supports registering and
/// unregistering file descriptors, and then polling them for I/O events.
#[pyclass(module = "select", name = "poll", frozen)]
struct PollObject {
    /// What `register`/`modify`/`unregister` change: CPython's dict of
    /// descriptor to mask, in registration order.
    registry: Mutex<indexmap::IndexMap<RawFd, u16>>,
    /// The library's registry that `poll()` waits on, kept equal to
    /// `registry`; locked for the whole of a `poll()` call, which is how a
    /// second, concurrent `poll()` is detected.
    active: Mutex<ioready::Poll>,
    /// `registry` changed while `active` was in use: rebuild it before the
    /// next wait (CPython's `ufd_uptodate == 0`).
    stale: AtomicBool,
}

impl PollObject {
    fn new_empty() -> Self {
        PollObject {
            registry: Mutex::new(indexmap::IndexMap::new()),
            active: Mutex::new(ioready::Poll::new()),
            stale: AtomicBool::new(false),
        }
    }

    /// Applies a registration change to `active` too, or marks it stale if
    /// a `poll()` is using it (another thread waits on the old set).
    fn mirror(&self, op: impl FnOnce(&mut ioready::Poll) -> io::Result<()>) {
        match self.active.try_lock() {
            Ok(mut active) if !self.stale.load(Ordering::Relaxed) => {
                if op(&mut active).is_err() {
                    self.stale.store(true, Ordering::Relaxed);
                }
            }
            _ => self.stale.store(true, Ordering::Relaxed),
        }
    }
}

#[pymethods]
impl PollObject {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __new__(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "cannot create 'select.poll' instances",
        ))
    }

    /// register($self, fd, eventmask=select.POLLIN | select.POLLPRI | select.POLLOUT, /)
    /// --
    ///
    /// Register a file descriptor with the polling object.
    ///
    ///   fd
    ///     either an integer, or an object with a fileno() method returning an int
    ///   eventmask
    ///     an optional bitmask describing the type of events to check for
    #[pyo3(signature = (fd, eventmask = PollMask(DEFAULT_POLL_MASK), /))]
    fn register(&self, fd: FdArg, eventmask: PollMask) -> PyResult<()> {
        let flags = PollFlags::from_bits(eventmask.0);
        lock(&self.registry).insert(fd.0, eventmask.0);
        self.mirror(|p| p.register_raw(fd.0, flags));
        Ok(())
    }

    /// modify($self, fd, eventmask, /)
    /// --
    ///
    /// Modify an already registered file descriptor.
    ///
    ///   fd
    ///     either an integer, or an object with a fileno() method returning
    ///     an int
    ///   eventmask
    ///     a bitmask describing the type of events to check for
    #[pyo3(signature = (fd, eventmask, /))]
    fn modify(&self, fd: FdArg, eventmask: PollMask) -> PyResult<()> {
        match lock(&self.registry).get_mut(&fd.0) {
            Some(mask) => *mask = eventmask.0,
            None => return Err(errno_error(libc::ENOENT)),
        }
        let flags = PollFlags::from_bits(eventmask.0);
        self.mirror(|p| p.modify(fd.0, flags));
        Ok(())
    }

    /// unregister($self, fd, /)
    /// --
    ///
    /// Remove a file descriptor being tracked by the polling object.
    #[pyo3(signature = (fd, /))]
    fn unregister(&self, fd: FdArg) -> PyResult<()> {
        if lock(&self.registry).shift_remove(&fd.0).is_none() {
            return Err(PyKeyError::new_err(fd.0));
        }
        self.mirror(|p| p.unregister(fd.0));
        Ok(())
    }
}

/// `poll.poll.__doc__`, with the text signature CPython's has.
const POLL_POLL_DOC: &std::ffi::CStr = c"poll($self, timeout=None, /)
--

Polls the set of registered file descriptors.

  timeout
    The maximum time to wait in milliseconds, or else None (or a negative
    value) to wait indefinitely.

Returns a list containing any descriptors that have events or errors to
report, as a list of (fd, event) 2-tuples.";

static POLL_POLL_DEF: MethodDef = MethodDef(ffi::PyMethodDef {
    ml_name: c"poll".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer {
        PyCFunctionFast: poll_poll_fast,
    },
    ml_flags: ffi::METH_FASTCALL,
    ml_doc: POLL_POLL_DOC.as_ptr(),
});

/// `poll.poll(timeout=None, /)`: the raw entry point, installed in the
/// class as a method descriptor (see the module init).
unsafe extern "C" fn poll_poll_fast(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments at
    // `args`, alive for the call. `slf` is a `select.poll` instance: the
    // method descriptor made with `PyDescr_NewMethod` for `PollObject`'s
    // type checks it (`descr_check`) before calling, and the class cannot
    // be subclassed, so the unchecked downcast is exact.
    unsafe {
        entry(|py| {
            if nargs > 1 {
                return Err(arg_count_error("poll", nargs, 0, 1));
            }
            let this = Borrowed::from_ptr(py, slf);
            let this = this.downcast_unchecked::<PollObject>().get();
            let timeout = if nargs == 1 {
                Some(arg(py, args, 0))
            } else {
                None
            };
            this.poll(py, timeout.as_deref().filter(|t| !t.is_none()))
                .map(Bound::into_ptr)
        })
    }
}

impl PollObject {
    /// `poll.poll()`; `timeout` is `None` for an absent or `None` timeout.
    fn poll<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (mut timeout, deadline) = match timeout {
            None => (None, None),
            Some(t) => {
                let ns = timeout_ns(t, NS_PER_MS, "timeout must be an integer or None")?;
                let first = ms_timeout(div_up(ns, NS_PER_MS))?;
                let deadline = u64::try_from(ns)
                    .ok()
                    .map(|ns| Deadline::after(Some(Duration::from_nanos(ns))));
                (first, deadline)
            }
        };
        let mut active = match self.active.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(PyRuntimeError::new_err("concurrent poll() invocation"));
            }
        };
        if self.stale.load(Ordering::Relaxed) {
            self.stale.store(false, Ordering::Relaxed);
            let mut fresh = ioready::Poll::new();
            for (&fd, &mask) in lock(&self.registry).iter() {
                fresh
                    .register_raw(fd, PollFlags::from_bits(mask))
                    .map_err(os_error)?;
            }
            *active = fresh;
        }
        let poll: &mut ioready::Poll = &mut active;
        // `wait_with_signals` by hand: the result borrows `poll`, and is
        // turned into the list directly (no copy of the pairs).
        let ready = loop {
            let result = {
                // SAFETY: `py` proves the GIL is held; only the syscall runs
                // until the guard drops and the GIL is back.
                let _released = unsafe { GilReleased::new() };
                poll.poll_once(timeout)
            };
            match result {
                Ok(ready) => break ready,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    match after_eintr(py, deadline.as_ref(), ceil_ms)? {
                        Some(next) => timeout = next.or(timeout),
                        None => return Ok(PyList::empty(py)),
                    }
                }
                Err(e) => return Err(os_error(e)),
            }
        };
        pair_list(
            py,
            ready.map(|(fd, ev)| (i64::from(fd), i64::from(ev.bits()))),
        )
    }
}

/// poll($module, /)
/// --
///
/// Returns a polling object.
///
/// This object supports registering and unregistering file descriptors, and then
/// polling them for I/O events.
#[pyfunction]
fn poll(py: Python<'_>) -> PyResult<Bound<'_, PollObject>> {
    Bound::new(py, PollObject::new_empty())
}

// ---------------------------------------------------------------------------
// epoll
// ---------------------------------------------------------------------------

const DEFAULT_EPOLL_MASK: u32 =
    EpollFlags::IN.bits() | EpollFlags::PRI.bits() | EpollFlags::OUT.bits();

/// CPython's `FD_SETSIZE - 1`: the default `sizehint` and `maxevents`.
const DEFAULT_MAXEVENTS: usize = 1023;

/// An epoll instance shared by its Python object and the waits in progress,
/// so that `close()` during another thread's `poll()` does not pull the
/// instance from under it: the descriptor is closed when both are done.
struct EpollHandle(ManuallyDrop<ioready::Epoll>);

impl std::ops::Deref for EpollHandle {
    type Target = ioready::Epoll;
    fn deref(&self) -> &ioready::Epoll {
        &self.0
    }
}

impl Drop for EpollHandle {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is not used again.
        let ep = unsafe { ManuallyDrop::take(&mut self.0) };
        let fd = ep.into_raw_fd();
        // Closed by hand rather than through `OwnedFd`: a descriptor adopted
        // with `epoll.fromfd` may already have been closed through another
        // epoll object sharing its number (CPython allows this and its
        // test_fromfd does it); close(2) then answers EBADF, ignored, as
        // CPython ignores it.
        // SAFETY: `fd` came from the `Epoll` we owned; nothing uses it after.
        unsafe { libc::close(fd) };
    }
}

/// select.epoll(sizehint=-1, flags=0)
///
/// Returns an epolling object
///
/// sizehint must be a positive integer or -1 for the default size. The
/// sizehint is used to optimize internal data structures. It doesn't limit
/// the maximum number of monitored events.
#[pyclass(module = "select", name = "epoll", frozen)]
struct EpollObject {
    /// `None` once closed.
    handle: Mutex<Option<Arc<EpollHandle>>>,
    /// The event buffer, reused by `poll()` (a concurrent `poll()` from
    /// another thread uses its own).
    events: Mutex<EventBuf>,
}

/// The library's event buffer, made `Send`.
///
/// `EpollEvents` is not `Send` only because rustix's `epoll::EventData`
/// union has a raw-pointer variant. The library stores and reads the `u64`
/// variant only and never dereferences anything: the buffer is plain bytes
/// the kernel wrote, owned by this value.
struct EventBuf(EpollEvents);

// SAFETY: see above: no pointer in the buffer is ever dereferenced, so
// moving it to (or using it from) another thread cannot race on anything.
unsafe impl Send for EventBuf {}

impl EventBuf {
    fn wait_once(&mut self, ep: &ioready::Epoll, timeout: Option<Duration>) -> io::Result<usize> {
        ep.wait_once(&mut self.0, timeout)
    }
}

fn closed_epoll() -> PyErr {
    PyValueError::new_err("I/O operation on closed epoll object")
}

impl EpollObject {
    fn wrap(ep: Option<ioready::Epoll>) -> Self {
        EpollObject {
            handle: Mutex::new(ep.map(|e| Arc::new(EpollHandle(ManuallyDrop::new(e))))),
            events: Mutex::new(EventBuf(EpollEvents::with_capacity(1))),
        }
    }

    /// Runs `op` on the open instance; `ValueError` once closed.
    fn with<T>(&self, op: impl FnOnce(&ioready::Epoll) -> io::Result<T>) -> PyResult<T> {
        match &*lock(&self.handle) {
            Some(h) => op(h).map_err(os_error),
            None => Err(closed_epoll()),
        }
    }
}

#[pymethods]
impl EpollObject {
    #[new]
    #[pyo3(signature = (sizehint = CInt(-1), flags = CInt(0)))]
    fn __new__(sizehint: CInt, flags: CInt) -> PyResult<Self> {
        let (sizehint, flags) = (sizehint.0, flags.0);
        if sizehint != -1 && sizehint <= 0 {
            return Err(PyValueError::new_err("negative sizehint"));
        }
        if flags != 0 && flags != libc::EPOLL_CLOEXEC {
            return Err(PyOSError::new_err("invalid flags"));
        }
        let ep = ioready::Epoll::new().map_err(os_error)?;
        Ok(EpollObject::wrap(Some(ep)))
    }

    /// fromfd($type, fd, /)
    /// --
    ///
    /// Create an epoll object from a given control fd.
    ///
    /// The object takes the descriptor over: it is closed with the object.
    #[classmethod]
    #[pyo3(signature = (fd, /))]
    fn fromfd<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        fd: CInt,
    ) -> PyResult<Bound<'py, EpollObject>> {
        let ep = match fd.0 {
            // CPython creates a new instance for -1 ...
            -1 => Some(ioready::Epoll::new().map_err(os_error)?),
            // ... and fails on other negative numbers (with whatever errno
            // was: 0, "Error", in practice).
            fd if fd < 0 => return Err(PyOSError::new_err((0, "Error"))),
            // SAFETY: `fromfd` transfers ownership of the descriptor to the
            // new object, which closes it (see `EpollHandle::drop`); a
            // number that is not an epoll descriptor only makes later calls
            // fail with EBADF/EINVAL.
            fd => Some(ioready::Epoll::from_owned_fd(unsafe {
                OwnedFd::from_raw_fd(fd)
            })),
        };
        Bound::new(cls.py(), EpollObject::wrap(ep))
    }

    /// close($self, /)
    /// --
    ///
    /// Close the epoll control file descriptor.
    ///
    /// Further operations on the epoll object will raise an exception.
    fn close(&self) {
        let handle = lock(&self.handle).take();
        drop(handle);
    }

    /// True if the epoll handler is closed
    #[getter]
    fn closed(&self) -> bool {
        lock(&self.handle).is_none()
    }

    /// fileno($self, /)
    /// --
    ///
    /// Return the epoll control file descriptor.
    fn fileno(&self) -> PyResult<RawFd> {
        self.with(|ep| Ok(ep.as_raw_fd()))
    }

    /// register($self, /, fd, eventmask=select.EPOLLIN | select.EPOLLPRI | select.EPOLLOUT)
    /// --
    ///
    /// Registers a new fd or raises an OSError if the fd is already registered.
    ///
    ///   fd
    ///     the target file descriptor of the operation
    ///   eventmask
    ///     a bit set composed of the various EPOLL constants
    ///
    /// The epoll interface supports all file descriptors that support poll.
    #[pyo3(signature = (fd, eventmask = EpollMask(DEFAULT_EPOLL_MASK)))]
    fn register(&self, fd: FdArg, eventmask: EpollMask) -> PyResult<()> {
        let flags = EpollFlags::from_bits(eventmask.0);
        // The event data is the descriptor number, as in CPython.
        self.with(|ep| ep.add_raw(fd.0, u64::from(fd.0 as u32), flags))
    }

    /// modify($self, /, fd, eventmask)
    /// --
    ///
    /// Modify event mask for a registered file descriptor.
    ///
    ///   fd
    ///     the target file descriptor of the operation
    ///   eventmask
    ///     a bit set composed of the various EPOLL constants
    #[pyo3(signature = (fd, eventmask))]
    fn modify(&self, fd: FdArg, eventmask: EpollMask) -> PyResult<()> {
        let flags = EpollFlags::from_bits(eventmask.0);
        self.with(|ep| ep.modify_raw(fd.0, u64::from(fd.0 as u32), flags))
    }

    /// unregister($self, /, fd)
    /// --
    ///
    /// Remove a registered file descriptor from the epoll object.
    ///
    ///   fd
    ///     the target file descriptor of the operation
    #[pyo3(signature = (fd))]
    fn unregister(&self, fd: FdArg) -> PyResult<()> {
        self.with(|ep| ep.delete_raw(fd.0))
    }

    /// poll($self, /, timeout=None, maxevents=-1)
    /// --
    ///
    /// Wait for events on the epoll file descriptor.
    ///
    ///   timeout
    ///     the maximum time to wait in seconds (as float);
    ///     a timeout of None or -1 makes poll wait indefinitely
    ///   maxevents
    ///     the maximum number of events returned; -1 means no limit
    ///
    /// Returns a list containing any descriptors that have events to report,
    /// as a list of (fd, events) 2-tuples.
    #[pyo3(signature = (timeout = None, maxevents = CInt(-1)))]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
        maxevents: CInt,
    ) -> PyResult<Bound<'py, PyList>> {
        let maxevents = maxevents.0;
        let handle = lock(&self.handle).clone().ok_or_else(closed_epoll)?;
        let (first, deadline) = match timeout {
            None => (None, None),
            Some(t) => {
                let ns = timeout_ns(t, NS_PER_SEC, "timeout must be an integer or None")?;
                let first = ms_timeout(div_ceiling(ns, NS_PER_MS))?;
                let deadline = u64::try_from(ns)
                    .ok()
                    .map(|ns| Deadline::after(Some(Duration::from_nanos(ns))));
                (first, deadline)
            }
        };
        let max = match maxevents {
            -1 => DEFAULT_MAXEVENTS,
            m if m < 1 => {
                return Err(PyValueError::new_err(format!(
                    "maxevents must be greater than 0, got {m}"
                )));
            }
            m => m as usize,
        };
        // Our buffer, or a private one if another thread is polling.
        let mut shared = match self.events.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let mut private;
        let events: &mut EventBuf = match shared.as_deref_mut() {
            Some(buf) => buf,
            None => {
                private = EventBuf(EpollEvents::with_capacity(max));
                &mut private
            }
        };
        // One wait returns at most the buffer's capacity: keep it exactly
        // `maxevents` (edge-triggered events must not be fetched and lost).
        if events.0.capacity() != max {
            events.0 = EpollEvents::with_capacity(max);
        }
        let ep: &ioready::Epoll = &handle;
        let waited = wait_with_signals(py, first, deadline, ceil_ms, |t| events.wait_once(ep, t))?;
        if waited.is_none() {
            return Ok(PyList::empty(py));
        }
        pair_list(
            py,
            events
                .0
                .iter()
                .map(|(data, flags)| (i64::from(data as u32 as i32), i64::from(flags.bits()))),
        )
    }

    /// __enter__($self, /)
    /// --
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        if lock(&slf.get().handle).is_none() {
            return Err(closed_epoll());
        }
        Ok(slf.clone())
    }

    /// __exit__($self, exc_type=None, exc_value=None, exc_tb=None, /)
    /// --
    #[pyo3(signature = (_exc_type = None, _exc_value = None, _exc_tb = None, /))]
    fn __exit__<'py>(
        slf: &Bound<'py, Self>,
        _exc_type: Option<&Bound<'py, PyAny>>,
        _exc_value: Option<&Bound<'py, PyAny>>,
        _exc_tb: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.call_method0("close")
    }
}

// ---------------------------------------------------------------------------
// The module
// ---------------------------------------------------------------------------

/// This module supports asynchronous I/O on multiple file descriptors.
///
/// *** IMPORTANT NOTICE ***
/// On Windows, only sockets are supported; on Unix, all file descriptors.
///
/// (ioready_select: CPython's select module on the ioready Rust library.)
#[pymodule]
fn _ioready_select(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // SAFETY: GIL held; `SELECT_DEF` is 'static; `PyCFunction_NewEx`
    // returns a new reference or NULL with an exception. The module name
    // (`__module__`) is the module's own, as PyO3 gives its functions.
    let select = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(SELECT_DEF.as_ptr(), m.as_ptr(), m.name()?.as_ptr()),
        )?
    };
    m.add("select", select)?;
    m.add_function(wrap_pyfunction!(poll, m)?)?;
    // `poll.poll` as a raw method: a method descriptor for the class, made
    // from a `'static` definition, replacing nothing (PyO3 defines no
    // `poll` method on it).
    let poll_type = py.get_type::<PollObject>();
    // SAFETY: GIL held; the type object is alive (`poll_type`) and the
    // definition is 'static; `PyDescr_NewMethod` returns a new reference or
    // NULL with an exception.
    let method = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyDescr_NewMethod(poll_type.as_type_ptr(), POLL_POLL_DEF.as_ptr()),
        )?
    };
    poll_type.setattr("poll", method)?;
    m.add_class::<EpollObject>()?;
    m.add("error", py.get_type::<PyOSError>())?;
    m.add("PIPE_BUF", libc::PIPE_BUF)?;

    let poll_flags: [(&str, PollFlags); 12] = [
        ("POLLIN", PollFlags::IN),
        ("POLLPRI", PollFlags::PRI),
        ("POLLOUT", PollFlags::OUT),
        ("POLLERR", PollFlags::ERR),
        ("POLLHUP", PollFlags::HUP),
        ("POLLNVAL", PollFlags::NVAL),
        ("POLLRDNORM", PollFlags::RDNORM),
        ("POLLRDBAND", PollFlags::RDBAND),
        ("POLLWRNORM", PollFlags::WRNORM),
        ("POLLWRBAND", PollFlags::WRBAND),
        ("POLLMSG", PollFlags::MSG),
        ("POLLRDHUP", PollFlags::RDHUP),
    ];
    for (name, flag) in poll_flags {
        m.add(name, flag.bits())?;
    }
    let epoll_flags: [(&str, EpollFlags); 14] = [
        ("EPOLLIN", EpollFlags::IN),
        ("EPOLLOUT", EpollFlags::OUT),
        ("EPOLLPRI", EpollFlags::PRI),
        ("EPOLLERR", EpollFlags::ERR),
        ("EPOLLHUP", EpollFlags::HUP),
        ("EPOLLET", EpollFlags::ET),
        ("EPOLLONESHOT", EpollFlags::ONESHOT),
        ("EPOLLEXCLUSIVE", EpollFlags::EXCLUSIVE),
        ("EPOLLRDHUP", EpollFlags::RDHUP),
        ("EPOLLRDNORM", EpollFlags::RDNORM),
        ("EPOLLRDBAND", EpollFlags::RDBAND),
        ("EPOLLWRNORM", EpollFlags::WRNORM),
        ("EPOLLWRBAND", EpollFlags::WRBAND),
        ("EPOLLMSG", EpollFlags::MSG),
    ];
    for (name, flag) in epoll_flags {
        m.add(name, flag.bits())?;
    }
    m.add("EPOLL_CLOEXEC", libc::EPOLL_CLOEXEC)?;
    Ok(())
}
