//! The user-space registration table behind the select and poll backends.
//!
//! These syscalls take the whole interest set on every call, so the
//! registrations live here, behind a mutex, and the waiting thread keeps its
//! own snapshot (a `pollfd` array or three `fd_set`s) that it rebuilds only
//! when the table's generation changed. A registration made while a wait is
//! in progress wakes that wait through an internal [`Notifier`], so it takes
//! effect at once, as on epoll.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::dispatch::Driver;
use super::own::OwnFds;
use super::Backend;
use crate::error::{already_registered, lock_unpoisoned, not_registered};
use crate::event::{Events, Interest, Token, Trigger};
use crate::sys::event::bits;
use crate::sys::notify::Notifier;

/// One registration.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub(super) fd: RawFd,
    pub(super) token: Token,
    pub(super) interest: Interest,
    pub(super) trigger: Trigger,
    /// False once a oneshot registration has reported (until reregister).
    pub(super) armed: bool,
    /// Set for a waker's descriptor: drained by the waiter after reporting,
    /// and kept open by this `Arc` while registered.
    pub(super) waker: Option<Arc<Notifier>>,
}

#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) entries: Vec<Entry>,
    /// The caller's registrations by number. Wakers are not in it: their
    /// numbers are the selector's own, and a caller's stale registration
    /// of the same number must neither stop a waker from being made nor
    /// reach it.
    by_fd: HashMap<RawFd, usize>,
}

impl Table {
    fn insert(&mut self, entry: Entry) -> io::Result<()> {
        if entry.waker.is_none() {
            if self.by_fd.contains_key(&entry.fd) {
                return Err(already_registered(entry.fd));
            }
            self.by_fd.insert(entry.fd, self.entries.len());
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Removes the waker entry of `notifier`.
    fn remove_waker(&mut self, notifier: &Arc<Notifier>) -> Option<Entry> {
        let i = self
            .entries
            .iter()
            .position(|e| e.waker.as_ref().is_some_and(|w| Arc::ptr_eq(w, notifier)))?;
        Some(self.remove_at(i))
    }

    fn remove_at(&mut self, i: usize) -> Entry {
        let entry = self.entries.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            if moved.waker.is_none() {
                self.by_fd.insert(moved.fd, i);
            }
        }
        entry
    }

    fn get_mut(&mut self, fd: RawFd) -> io::Result<&mut Entry> {
        match self.by_fd.get(&fd) {
            Some(&i) => Ok(&mut self.entries[i]),
            None => Err(not_registered(fd)),
        }
    }

    fn remove(&mut self, fd: RawFd) -> io::Result<Entry> {
        let i = self.by_fd.remove(&fd).ok_or_else(|| not_registered(fd))?;
        Ok(self.remove_at(i))
    }
}

/// The shared side of the select and poll backends.
#[derive(Debug)]
pub(crate) struct Registry {
    backend: Backend,
    table: Mutex<Table>,
    /// Bumped on every change, so a waiter knows its snapshot is stale.
    generation: AtomicU64,
    /// True while a thread is (about to be) blocked in the wait.
    waiting: AtomicBool,
    /// Interrupts that wait when the table changes.
    pub(super) notifier: Notifier,
    /// The notifier's and the wakers' numbers (see `OwnFds`).
    pub(super) own: OwnFds,
}

impl Registry {
    /// A table for `backend` (`Poll` or `Select`: named in errors).
    pub(super) fn new(backend: Backend) -> io::Result<Self> {
        let notifier = Notifier::new()?;
        Ok(Registry {
            backend,
            table: Mutex::new(Table::default()),
            generation: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            own: OwnFds::new(&[notifier.as_raw_fd(), notifier.raw_write_fd()]),
            notifier,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        lock_unpoisoned(&self.table)
    }

    /// Publishes a change: bumps the generation, then interrupts a wait in
    /// progress. (The waiter sets `waiting` before it reads the generation;
    /// with both sides sequentially consistent, either it sees the new
    /// generation or we see it waiting.)
    fn changed(&self) -> io::Result<()> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) {
            self.notifier.notify()?;
        }
        Ok(())
    }

    /// Marks the start of a wait (from now on a change interrupts it), and
    /// returns the table, locked, if it changed since the waiter's snapshot
    /// was taken at generation `seen` (which is then updated): the waiter
    /// rebuilds its snapshot from it. Pair with [`end_wait`](Self::end_wait).
    #[inline]
    pub(super) fn begin_wait(&self, seen: &mut Option<u64>) -> Option<MutexGuard<'_, Table>> {
        self.waiting.store(true, Ordering::SeqCst);
        let generation = self.generation.load(Ordering::SeqCst);
        if *seen == Some(generation) {
            return None;
        }
        *seen = Some(generation);
        Some(self.lock())
    }

    /// Marks the end of a wait.
    #[inline]
    pub(super) fn end_wait(&self) {
        self.waiting.store(false, Ordering::SeqCst);
    }

    fn check_trigger(&self, trigger: Trigger) -> io::Result<()> {
        if trigger == Trigger::Edge {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "trigger: the {} backend cannot report edges (use Level or Oneshot)",
                    self.backend.name()
                ),
            ));
        }
        Ok(())
    }

    fn insert(&self, entry: Entry) -> io::Result<()> {
        self.check_trigger(entry.trigger)?;
        self.lock().insert(entry)?;
        self.changed()
    }

    /// Disarms oneshot registrations that have just reported. Called by the
    /// waiter, under one lock for all of them.
    pub(super) fn disarm(&self, fired: impl Iterator<Item = (RawFd, Token)>) {
        let mut table = self.lock();
        let mut any = false;
        for (fd, token) in fired {
            if let Ok(e) = table.get_mut(fd) {
                // Only if it is still the registration that fired.
                if e.token == token && e.trigger == Trigger::Oneshot {
                    e.armed = false;
                    any = true;
                }
            }
        }
        drop(table);
        if any {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The registry is the shared side of both the poll and the select
/// backend; their waiters (`poll.rs`, `select.rs`) are where they differ.
impl Driver for Registry {
    type Waker = Waker;

    fn register(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        self.own.check(fd, "register")?;
        self.insert(Entry {
            fd,
            token,
            interest,
            trigger,
            armed: true,
            waker: None,
        })
    }

    fn reregister(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Option<Trigger>,
    ) -> io::Result<()> {
        if let Some(trigger) = trigger {
            self.check_trigger(trigger)?;
        }
        {
            let mut table = self.lock();
            let e = table.get_mut(fd)?;
            e.token = token;
            e.interest = interest;
            if let Some(trigger) = trigger {
                e.trigger = trigger;
            }
            e.armed = true;
        }
        self.changed()
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        let removed = self.lock().remove(fd)?;
        drop(removed);
        self.changed()
    }

    fn waker(self: &Arc<Self>, token: Token) -> io::Result<Waker> {
        let notifier = Arc::new(Notifier::new()?);
        // Both ends where the notifier is a pipe (one number twice where it
        // is an eventfd: added and removed in pairs).
        self.own.add(notifier.as_raw_fd());
        self.own.add(notifier.raw_write_fd());
        self.insert(Entry {
            fd: notifier.as_raw_fd(),
            token,
            interest: Interest::READABLE,
            trigger: Trigger::Level,
            armed: true,
            waker: Some(notifier.clone()),
        })
        .inspect_err(|_| {
            self.own.remove(notifier.as_raw_fd());
            self.own.remove(notifier.raw_write_fd());
        })?;
        Ok(Waker {
            notifier,
            registry: self.clone(),
        })
    }

    fn wake(w: &Waker) -> io::Result<()> {
        w.notifier.notify()
    }
}

/// The waiting thread's copy of the armed registrations, in table order,
/// and where the next report starts: shared by the poll and select
/// backends, which keep their kernel arrays beside it.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    pub(super) entries: Vec<Entry>,
    /// `slots[i]`: the position of `entries[i]` in the table (increasing).
    slots: Vec<usize>,
    /// `shadowed[i]`: `entries[i]` is a caller's registration whose number
    /// now names the selector's own descriptor (the caller's was closed):
    /// left out of the kernel's arrays and reported invalid, as closed.
    pub(super) shadowed: Vec<bool>,
    /// The table position the next report starts from: that of the first
    /// entry that did not fit when `events` filled up. A table position,
    /// not an index into `entries`: a oneshot registration disarmed by its
    /// report is left out of the next snapshot, which would otherwise shift
    /// the rotation past the entry that was next.
    next: usize,
}

impl Snapshot {
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.slots.clear();
        self.shadowed.clear();
    }

    /// The armed entries of `table`, with their table positions, in order:
    /// what a rebuild takes (and [`push`](Self::push)es).
    pub(super) fn armed(table: &Table) -> impl Iterator<Item = (usize, &Entry)> {
        table.entries.iter().enumerate().filter(|(_, e)| e.armed)
    }

    /// Adds `e` (at table position `slot`); returns whether it is
    /// shadowed (see `shadowed`), so the waiter leaves it out.
    pub(super) fn push(&mut self, registry: &Registry, slot: usize, e: &Entry) -> bool {
        let shadowed = e.waker.is_none() && registry.own.contains(e.fd);
        self.entries.push(e.clone());
        self.slots.push(slot);
        self.shadowed.push(shadowed);
        shadowed
    }

    /// Reports the ready entries of one wait into `events`. `ready(i, e)`
    /// gives the event bits of `entries[i]` (zero when not ready).
    ///
    /// The scan starts at the saved position and wraps around; when
    /// `events` fills up, the position of the first entry that did not fit
    /// is saved, so the next wait starts there instead of at the first ones
    /// again: with `r` ready and room for `c`, each is reported within
    /// ⌈r / c⌉ waits, invalid ones (closed descriptors) and live ones alike
    /// (epoll gets this fairness from requeueing level-triggered events at
    /// the tail). Wakers that fired are drained and oneshot entries that
    /// fired disarmed.
    pub(super) fn report(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        ready: impl Fn(usize, &Entry) -> u32,
    ) {
        let entries = &self.entries;
        let n = entries.len();
        let first = match self.slots.partition_point(|&s| s < self.next) {
            i if i < n => i,
            _ => 0,
        };
        let order = || (first..n).chain(0..first);
        let mut examined = 0;
        let mut full = false;
        let mut oneshot_fired = false;
        let shadowed = &self.shadowed;
        let ready = |i: usize, e: &Entry| {
            if shadowed[i] {
                bits::NVAL | bits::ERR
            } else {
                ready(i, e)
            }
        };
        for i in order() {
            let e = &entries[i];
            let flags = ready(i, e);
            if flags != 0 {
                if !events.push(e.token, flags) {
                    full = true;
                    break;
                }
                if let Some(w) = &e.waker {
                    w.drain();
                }
                oneshot_fired |= e.trigger == Trigger::Oneshot;
            }
            examined += 1;
        }
        self.next = if full {
            self.slots[(first + examined) % n]
        } else {
            0
        };
        if oneshot_fired {
            registry.disarm(
                order()
                    .take(examined)
                    .filter(|&i| {
                        entries[i].trigger == Trigger::Oneshot && ready(i, &entries[i]) != 0
                    })
                    .map(|i| (entries[i].fd, entries[i].token)),
            );
        }
    }
}

/// The waker of the select and poll backends: its own notifier, registered
/// in the table (which keeps it open while registered) and drained by the
/// waiter each time it is reported.
#[derive(Debug)]
pub(crate) struct Waker {
    notifier: Arc<Notifier>,
    registry: Arc<Registry>,
}

impl Drop for Waker {
    fn drop(&mut self) {
        // The table holds a clone of the notifier, so the descriptor number
        // cannot be reused before this removal.
        let removed = self.registry.lock().remove_waker(&self.notifier);
        self.registry.own.remove(self.notifier.as_raw_fd());
        self.registry.own.remove(self.notifier.raw_write_fd());
        drop(removed);
        let _ = self.registry.changed();
    }
}
