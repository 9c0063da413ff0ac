//! The loop's registration table: for each watched descriptor, the object
//! it was registered with, the events watched (asyncio's `EVENT_READ` and
//! `EVENT_WRITE` bits) and the reader and writer handles. It is what
//! `selectors`' key map is to asyncio's selector loop (`get_key` builds a
//! `SelectorKey` from an entry), kept in a vector indexed by descriptor.

use std::os::fd::RawFd;

use ioready::Interest;
use pyo3::prelude::*;

use super::handle::Handle;

/// `selectors.EVENT_READ`.
pub(crate) const EVENT_READ: u8 = 1;
/// `selectors.EVENT_WRITE`.
pub(crate) const EVENT_WRITE: u8 = 2;

/// One watched descriptor.
pub(crate) struct FdEntry {
    /// What `add_reader`/`add_writer` was given (an int or a file object).
    pub(crate) fileobj: Py<PyAny>,
    /// `EVENT_READ | EVENT_WRITE` bits watched.
    pub(crate) mask: u8,
    pub(crate) reader: Option<Py<Handle>>,
    pub(crate) writer: Option<Py<Handle>>,
}

/// The library interest for an asyncio event mask (not empty).
pub(crate) fn interest(mask: u8) -> Interest {
    match mask {
        EVENT_READ => Interest::READABLE,
        EVENT_WRITE => Interest::WRITABLE,
        _ => Interest::BOTH,
    }
}

/// Every watched descriptor.
#[derive(Default)]
pub(crate) struct FdTable {
    entries: Vec<Option<FdEntry>>,
}

impl FdTable {
    pub(crate) fn get(&self, fd: RawFd) -> Option<&FdEntry> {
        self.entries.get(usize::try_from(fd).ok()?)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, fd: RawFd) -> Option<&mut FdEntry> {
        self.entries.get_mut(usize::try_from(fd).ok()?)?.as_mut()
    }

    /// Adds an entry for `fd` (not present; `fd >= 0`).
    pub(crate) fn insert(&mut self, fd: RawFd, entry: FdEntry) {
        let Ok(i) = usize::try_from(fd) else { return };
        if i >= self.entries.len() {
            self.entries.resize_with(i + 1, || None);
        }
        self.entries[i] = Some(entry);
    }

    pub(crate) fn remove(&mut self, fd: RawFd) -> Option<FdEntry> {
        self.entries.get_mut(usize::try_from(fd).ok()?)?.take()
    }

    /// The descriptor registered with exactly this object (selectors'
    /// exhaustive search, for a file object whose `fileno()` fails now,
    /// e.g. a closed socket).
    pub(crate) fn find_object(&self, obj: &Bound<'_, PyAny>) -> Option<RawFd> {
        self.iter()
            .find(|(_, e)| e.fileobj.bind(obj.py()).is(obj))
            .map(|(fd, _)| fd)
    }

    /// Every entry with its descriptor.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RawFd, &FdEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i as RawFd, e.as_ref()?)))
    }

    /// Takes every entry out (on close).
    pub(crate) fn take_all(&mut self) -> Vec<(RawFd, FdEntry)> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i as RawFd, e?)))
            .collect()
    }
}
