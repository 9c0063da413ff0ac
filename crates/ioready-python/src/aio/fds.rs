//! The loop's registration table: for each watched descriptor, the object
//! it was registered with, the events watched (asyncio's `EVENT_READ` and
//! `EVENT_WRITE` bits) and the reader and writer handles. It is what
//! `selectors`' key map is to asyncio's selector loop (`get_key` builds a
//! `SelectorKey` from an entry), kept in a vector indexed by descriptor.
//!
//! An entry may also be *parked*: no events watched, its edge-triggered
//! kernel registration kept for the next sock_* call on its socket (see
//! `sockwatch`); the lookups asyncio's Python sees skip it.

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
    /// `EVENT_READ | EVENT_WRITE` bits watched; 0 when parked.
    pub(crate) mask: u8,
    pub(crate) reader: Option<Py<Handle>>,
    pub(crate) writer: Option<Py<Handle>>,
    /// The kernel registration is edge-triggered for reading and writing
    /// (made for asyncio's sock_* callbacks only); else level-triggered for
    /// `mask`.
    pub(crate) edge: bool,
    /// For an edge-triggered entry: a weak reference to the socket it was
    /// made for (see `sockwatch`).
    pub(crate) owner: Option<Py<PyAny>>,
}

impl FdEntry {
    /// Parked: kept for its kernel registration only.
    pub(crate) fn parked(&self) -> bool {
        self.mask == 0
    }
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
    /// The selector refused an edge-triggered registration (select, poll):
    /// sock_* registrations are level-triggered and never parked.
    pub(crate) edge_refused: bool,
}

impl FdTable {
    /// The entry of a watched descriptor (not a parked one).
    pub(crate) fn get(&self, fd: RawFd) -> Option<&FdEntry> {
        self.entries
            .get(usize::try_from(fd).ok()?)?
            .as_ref()
            .filter(|e| !e.parked())
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

    /// Every watched descriptor's entry (parked ones left out).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RawFd, &FdEntry)> {
        self.iter_all().filter(|(_, e)| !e.parked())
    }

    /// Every entry, parked ones too.
    pub(crate) fn iter_all(&self) -> impl Iterator<Item = (RawFd, &FdEntry)> {
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
