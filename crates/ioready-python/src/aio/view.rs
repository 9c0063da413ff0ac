//! `SelectorView`: what asyncio's Python code of the loop sees as
//! `loop._selector`, on the loop core's registration table.
//!
//! In CPython 3.9-3.13 that code only asks it for keys (`get_key`, in
//! `_ensure_fd_no_transport` and the transports' reprs), for the map, and
//! to `close()` (in the loop's `close()`); registering, modifying and
//! waiting go through the core's own methods, which replace asyncio's.

use pyo3::exceptions::{PyKeyError, PyRuntimeError};
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::core::LoopCore;
use super::fds::FdEntry;
use super::glue;

/// `loop._selector` of an `ioready.EventLoop` (see the module).
#[pyclass(module = "ioready._ioready", name = "SelectorView", frozen)]
pub(crate) struct SelectorView {
    core: Py<LoopCore>,
}

fn key<'py>(py: Python<'py>, fd: i32, entry: &FdEntry) -> PyResult<Bound<'py, PyAny>> {
    let handle = |h: &Option<Py<super::handle::Handle>>| {
        h.as_ref()
            .map_or_else(|| py.None(), |h| h.clone_ref(py).into_any())
    };
    let data = PyTuple::new(py, [handle(&entry.reader), handle(&entry.writer)])?;
    glue::SELECTOR_KEY
        .get(py)?
        .call1((entry.fileobj.clone_ref(py), fd, entry.mask, data))
}

#[pymethods]
impl SelectorView {
    #[new]
    fn new(core: Py<LoopCore>) -> Self {
        SelectorView { core }
    }

    /// `selectors.BaseSelector.get_key`: the `SelectorKey` of a watched
    /// file object (`data` is `(reader, writer)`).
    ///
    /// `KeyError` if it is not watched, `RuntimeError` once closed.
    fn get_key<'py>(&self, fileobj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = fileobj.py();
        let core = self.core.get();
        if core.poller.get(py)?.is_none() {
            return Err(PyRuntimeError::new_err("Selector is closed"));
        }
        let fd = core.lookup_fd(fileobj)?;
        let fds = core.fds.get(py)?;
        match fds.get(fd) {
            Some(entry) => key(py, fd, entry),
            None => Err(PyKeyError::new_err(format!(
                "{} is not registered",
                fileobj.repr()?
            ))),
        }
    }

    /// A dict of descriptor to `SelectorKey` (a snapshot), or `None` once
    /// closed.
    fn get_map<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let core = self.core.get();
        if core.poller.get(py)?.is_none() {
            return Ok(None);
        }
        let map = PyDict::new(py);
        let fds = core.fds.get(py)?;
        for (fd, entry) in fds.iter() {
            map.set_item(fd, key(py, fd, entry)?)?;
        }
        Ok(Some(map))
    }

    /// Closes the loop's selector, forgetting every registration and
    /// callback (asyncio's `close()` calls it last).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.core.get().shutdown(py)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.core)
    }
}
