//! A callback's arguments as a handle keeps them: none, one or two held
//! directly (the common cases: a task's step, a future's callback with the
//! future), more as a tuple. Calls with one or two go through vectorcall,
//! so scheduling and running such a callback makes no tuple.
//!
//! Running a handle takes [`BoundArgs`], new references that release
//! themselves with a plain decref: `Py`'s own drop asks a thread-local
//! whether the GIL is held, which on the hot path of every callback costs
//! more than the call's own bookkeeping.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::Borrowed;

#[cfg(any(not(Py_LIMITED_API), Py_3_10))]
use crate::ffi::kwcall::Args;

/// The arguments of one callback.
#[derive(Default)]
pub(crate) enum CallArgs {
    #[default]
    None,
    One(Py<PyAny>),
    Two(Py<PyAny>, Py<PyAny>),
    Many(Py<PyTuple>),
}

impl CallArgs {
    /// From the positional arguments of a raw call.
    ///
    /// # Errors
    ///
    /// `MemoryError` when a tuple is needed (three or more).
    #[cfg(any(not(Py_LIMITED_API), Py_3_10))]
    pub(crate) fn from_args(py: Python<'_>, args: Args<'_, '_>) -> PyResult<Self> {
        Ok(match args.len() {
            0 => CallArgs::None,
            1 | 2 => {
                let mut it = args.iter();
                let mut next = || it.next().map(|a| Borrowed::to_owned(a).unbind());
                match (next(), next()) {
                    (Some(a), None) => CallArgs::One(a),
                    (Some(a), Some(b)) => CallArgs::Two(a, b),
                    _ => CallArgs::None,
                }
            }
            _ => CallArgs::Many(PyTuple::new(py, args.iter())?.unbind()),
        })
    }

    /// From a slice of arguments.
    ///
    /// # Errors
    ///
    /// `MemoryError` when a tuple is needed (three or more).
    pub(crate) fn from_slice(py: Python<'_>, items: &[Borrowed<'_, '_, PyAny>]) -> PyResult<Self> {
        Ok(match items {
            [] => CallArgs::None,
            [a] => CallArgs::One(Borrowed::to_owned(*a).unbind()),
            [a, b] => CallArgs::Two(
                Borrowed::to_owned(*a).unbind(),
                Borrowed::to_owned(*b).unbind(),
            ),
            more => CallArgs::Many(
                PyTuple::new(py, more.iter().map(|a| Borrowed::to_owned(*a)))?.unbind(),
            ),
        })
    }

    /// From the tuple PyO3 collected for `*args`.
    pub(crate) fn from_tuple(args: &Bound<'_, PyTuple>) -> Self {
        match args.len() {
            0 => CallArgs::None,
            1 | 2 => {
                let items: Vec<Borrowed<'_, '_, PyAny>> = args.iter_borrowed().collect();
                CallArgs::from_slice(args.py(), &items)
                    .unwrap_or_else(|_| CallArgs::Many(args.clone().unbind()))
            }
            _ => CallArgs::Many(args.clone().unbind()),
        }
    }

    /// A new reference to each argument (to call without a borrow alive).
    pub(crate) fn bind_clone<'py>(&self, py: Python<'py>) -> BoundArgs<'py> {
        match self {
            CallArgs::None => BoundArgs::None,
            CallArgs::One(a) => BoundArgs::One(a.bind(py).clone()),
            CallArgs::Two(a, b) => BoundArgs::Two(a.bind(py).clone(), b.bind(py).clone()),
            CallArgs::Many(t) => BoundArgs::Many(t.bind(py).clone()),
        }
    }

    /// Releases the arguments with plain decrefs (see the module).
    pub(crate) fn drop_ref(self, py: Python<'_>) {
        match self {
            CallArgs::None => {}
            CallArgs::One(a) => a.drop_ref(py),
            CallArgs::Two(a, b) => {
                a.drop_ref(py);
                b.drop_ref(py);
            }
            CallArgs::Many(t) => t.drop_ref(py),
        }
    }

    /// The arguments as a tuple (asyncio's `_args`).
    ///
    /// # Errors
    ///
    /// `MemoryError`.
    pub(crate) fn to_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match self {
            CallArgs::None => Ok(PyTuple::empty(py)),
            CallArgs::One(a) => PyTuple::new(py, [a.bind(py)]),
            CallArgs::Two(a, b) => PyTuple::new(py, [a.bind(py), b.bind(py)]),
            CallArgs::Many(t) => Ok(t.bind(py).clone()),
        }
    }

    /// Every object held, for the garbage collector.
    pub(crate) fn objects(&self) -> impl Iterator<Item = &Py<PyAny>> {
        let (a, b) = self.pair();
        a.into_iter().chain(b)
    }

    /// The objects held (the tuple for three or more), at most two.
    pub(crate) fn pair(&self) -> (Option<&Py<PyAny>>, Option<&Py<PyAny>>) {
        match self {
            CallArgs::One(a) => (Some(a), None),
            CallArgs::Two(a, b) => (Some(a), Some(b)),
            CallArgs::Many(t) => (Some(t.as_any()), None),
            CallArgs::None => (None, None),
        }
    }
}

/// A callback's arguments as new references, for one call.
pub(crate) enum BoundArgs<'py> {
    None,
    One(Bound<'py, PyAny>),
    Two(Bound<'py, PyAny>, Bound<'py, PyAny>),
    Many(Bound<'py, PyTuple>),
}

impl<'py> BoundArgs<'py> {
    /// `callback(*args)` (the limited API calls through `Context.run`
    /// instead).
    ///
    /// # Errors
    ///
    /// What the callback raises.
    #[cfg(not(Py_LIMITED_API))]
    pub(crate) fn call(&self, callback: &Bound<'py, PyAny>) -> PyResult<()> {
        match self {
            BoundArgs::None => callback.call0(),
            BoundArgs::One(a) => callback.call1((a,)),
            BoundArgs::Two(a, b) => callback.call1((a, b)),
            BoundArgs::Many(t) => callback.call1(t),
        }
        .map(drop)
    }

    /// The arguments as a tuple.
    ///
    /// # Errors
    ///
    /// `MemoryError`.
    #[cfg(Py_LIMITED_API)]
    pub(crate) fn to_tuple(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match self {
            BoundArgs::None => Ok(PyTuple::empty(py)),
            BoundArgs::One(a) => PyTuple::new(py, [a]),
            BoundArgs::Two(a, b) => PyTuple::new(py, [a, b]),
            BoundArgs::Many(t) => Ok(t.clone()),
        }
    }
}
