//! `select.select()`: the lists' descriptors go into the library's
//! [`ioready::SelectSets`] in one pass, the sets are waited on, and the
//! ready objects (the caller's own, by identity) come back in three new
//! lists.

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use ioready::{Deadline, SelectSets};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::Borrowed;
use smallvec::SmallVec;

use crate::ffi::build::{list_of, tuple3};
use crate::ffi::call::{Args, MethodDef, RawFunction};
use crate::ffi::convert::{file_descriptor, for_each_item};
use crate::ffi::gil::GilReleased;
use crate::select::errors::{arg_count_error, os_error};
use crate::select::pytime::{ceil_us, div_up, timeout_ns, NS_PER_SEC};
use crate::select::wait::after_eintr;

/// Inline room for the descriptors of one `select()` call: the common case
/// (a few sockets) allocates nothing for them.
const INLINE: usize = 8;

/// `select(rlist, wlist, xlist, timeout=None, /)`, a raw entry point.
pub(crate) struct Select;

/// Its definition, registered as the module's `select`.
pub(crate) static SELECT_DEF: MethodDef = MethodDef::of::<Select>();

impl RawFunction for Select {
    const NAME: &'static CStr = c"select";
    const DOC: &'static CStr = c"select($module, rlist, wlist, xlist, timeout=None, /)
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

    fn call<'py>(
        py: Python<'py>,
        _module: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nargs = args.len();
        if !(3..=4).contains(&nargs) {
            return Err(arg_count_error("select", nargs, 3, 4));
        }
        let timeout = if nargs == 4 { Some(args.get(3)) } else { None };
        select(
            py,
            &args.get(0),
            &args.get(1),
            &args.get(2),
            timeout.as_deref().filter(|t| !t.is_none()),
        )
        .map(Bound::into_any)
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
    let mut sets = SelectSets::new();
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
            // SAFETY: only the syscall on plain descriptor numbers runs
            // until the guard drops and the GIL is back.
            let _released = unsafe { GilReleased::new(py) };
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
                        return tuple3(py, [empty(), empty(), empty()]);
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
    tuple3(py, lists)
}

/// CPython's `seq2set`: the objects of one argument and their descriptors,
/// each descriptor also inserted with `insert` (into one of the sets).
fn collect<'py>(
    seq: &Bound<'py, PyAny>,
    objs: &mut SmallVec<[Bound<'py, PyAny>; INLINE]>,
    fds: &mut SmallVec<[RawFd; INLINE]>,
    mut insert: impl FnMut(RawFd) -> io::Result<()>,
) -> PyResult<()> {
    for_each_item(seq, c"arguments 1-3 must be sequences", |obj| {
        let fd = file_descriptor(&obj)?;
        insert(fd).map_err(os_error)?;
        fds.push(fd);
        objs.push(obj);
        Ok(())
    })
}

/// The objects whose descriptor `ready` says is ready, as a new list
/// (counted, then filled, as CPython's `set2list`). With `all`, every
/// object is known to be ready and none is looked up.
fn ready_list<'py>(
    py: Python<'py>,
    objs: &[Bound<'py, PyAny>],
    fds: &[RawFd],
    all: bool,
    ready: impl Fn(RawFd) -> bool,
) -> PyResult<Bound<'py, PyList>> {
    let n = if all {
        fds.len()
    } else {
        fds.iter().filter(|fd| ready(**fd)).count()
    };
    // The second pass asks the same unchanged sets as the first, so it
    // yields `n` objects.
    let at = fds.iter().zip(objs).filter(|(fd, _)| all || ready(**fd));
    list_of(
        py,
        n,
        at.map(|(_, obj)| obj),
        "select: ready set changed while building the result",
    )
}

/// Fills `sets` again from the descriptors of one `select()` call (readers
/// before `nr`, writers before `nw`, then the exceptional ones).
fn refill(sets: &mut SelectSets, fds: &[RawFd], nr: usize, nw: usize) -> io::Result<()> {
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
