//! A callback's arguments as a handle keeps them: none, one or two held
//! directly (the common cases: a task's step, a future's callback with the
//! future), more as a tuple. Calls with one or two go through vectorcall,
//! so scheduling and running such a callback makes no tuple.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::Borrowed;

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
    pub(crate) fn clone_ref(&self, py: Python<'_>) -> CallArgs {
        match self {
            CallArgs::None => CallArgs::None,
            CallArgs::One(a) => CallArgs::One(a.clone_ref(py)),
            CallArgs::Two(a, b) => CallArgs::Two(a.clone_ref(py), b.clone_ref(py)),
            CallArgs::Many(t) => CallArgs::Many(t.clone_ref(py)),
        }
    }

    /// `callback(*args)` (the limited API calls through `Context.run`
    /// instead).
    ///
    /// # Errors
    ///
    /// What the callback raises.
    #[cfg(not(Py_LIMITED_API))]
    pub(crate) fn call(&self, callback: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = callback.py();
        match self {
            CallArgs::None => callback.call0(),
            CallArgs::One(a) => callback.call1((a.bind(py),)),
            CallArgs::Two(a, b) => callback.call1((a.bind(py), b.bind(py))),
            CallArgs::Many(t) => callback.call1(t.bind(py)),
        }
        .map(drop)
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
        let (a, b) = match self {
            CallArgs::One(a) => (Some(a), None),
            CallArgs::Two(a, b) => (Some(a), Some(b)),
            CallArgs::Many(t) => (Some(t.as_any()), None),
            CallArgs::None => (None, None),
        };
        a.into_iter().chain(b)
    }
}
