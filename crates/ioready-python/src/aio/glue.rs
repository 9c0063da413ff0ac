//! The Python half of the cold paths (`ioready/_glue.py`), looked up once.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

/// One function (or class) of `ioready._glue`, imported on first use.
pub(crate) struct Glue {
    name: &'static str,
    cell: GILOnceCell<Py<PyAny>>,
}

impl Glue {
    const fn new(name: &'static str) -> Self {
        Glue {
            name,
            cell: GILOnceCell::new(),
        }
    }

    /// The object.
    ///
    /// # Errors
    ///
    /// An import error of `ioready._glue` (or asyncio, which it imports).
    pub(crate) fn get<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        self.cell.import(py, "ioready._glue", self.name)
    }
}

/// `handle_repr(handle, when)`.
pub(crate) static HANDLE_REPR: Glue = Glue::new("handle_repr");
/// `report_error(handle, exc)`.
pub(crate) static REPORT_ERROR: Glue = Glue::new("report_error");
/// `source_traceback()`.
pub(crate) static SOURCE_TRACEBACK: Glue = Glue::new("source_traceback");
/// `warn_slow(handle, dt)`.
pub(crate) static WARN_SLOW: Glue = Glue::new("warn_slow");
/// `selectors.SelectorKey`.
pub(crate) static SELECTOR_KEY: Glue = Glue::new("SelectorKey");
/// `warn_connlost()`: asyncio's warning for writes after the connection
/// was lost.
pub(crate) static WARN_CONNLOST: Glue = Glue::new("warn_connlost");
