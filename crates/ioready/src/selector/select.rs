//! The select(2) backend: three `fd_set` templates rebuilt from the
//! registration table only when it changes, copied before each wait. The
//! sets grow with the highest descriptor, so there is no `FD_SETSIZE` limit.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::dispatch::Wait;
use super::table::{Entry, Registry, Snapshot, Table};
use super::Backend;
use crate::event::{Events, Interest};
use crate::sys::event::bits;
use crate::sys::select::FdSets;
use crate::sys::{is_open, Errno};

/// The waiting side of the select backend (its shared side is the table's
/// registry), boxed (see `Wait for Box<Waiter>`).
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    generation: Option<u64>,
    template: FdSets,
    work: FdSets,
    snap: Snapshot,
    /// After `EBADF`: `closed[i]` is true if `snap.entries[i]` names a
    /// closed descriptor (a field, so that its allocation is reused).
    closed: Vec<bool>,
}

impl Waiter {
    fn rebuild(&mut self, registry: &Registry, table: &Table) {
        self.snap.clear();
        self.template.clear();
        self.template.read.insert(registry.notifier.as_raw_fd());
        for (slot, e) in Snapshot::armed(table) {
            if self.snap.push(registry, slot, e) {
                continue; // shadowed: in no set
            }
            // select has no "hang-up" or "error" set: those show as readable
            // (and writable), so a writer-only registration learns of them
            // when its write fails, as with select(2) itself.
            if e.interest
                .intersects(Interest::READABLE | Interest::READ_CLOSED)
            {
                self.template.read.insert(e.fd);
            }
            if e.interest.contains(Interest::WRITABLE) {
                self.template.write.insert(e.fd);
            }
            if e.interest.contains(Interest::PRIORITY) {
                self.template.except.insert(e.fd);
            }
        }
    }

    fn report_ready(&mut self, registry: &Registry, events: &mut Events) {
        let work = &self.work;
        self.snap
            .report(registry, events, |_, e| ready_bits(work, e));
    }

    /// select(2) failed with `EBADF`: a registered descriptor was closed.
    /// Selects again at once without the closed ones, then reports them as
    /// invalid (like poll's `POLLNVAL`) together with the others that are
    /// ready, in the one fair rotation: a closed one neither starves the
    /// live ones nor is starved by them, and a oneshot one is reported once.
    /// If no closed one can be found, returns the error.
    #[cold]
    fn report_closed(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        err: io::Error,
    ) -> io::Result<usize> {
        self.work.copy_from(&self.template);
        self.closed.clear();
        let mut any = false;
        for e in &self.snap.entries {
            let closed = !is_open(e.fd);
            if closed {
                any = true;
                self.work.read.remove(e.fd);
                self.work.write.remove(e.fd);
                self.work.except.remove(e.fd);
            }
            self.closed.push(closed);
        }
        if !any {
            return Err(err);
        }
        if self.work.select_once(Some(Duration::ZERO)).is_err() {
            // Another one closed meanwhile: the closed ones now, the rest
            // from the next wait.
            self.work.clear();
        }
        if self.work.read.contains(registry.notifier.as_raw_fd()) {
            registry.notifier.drain();
        }
        let (work, closed) = (&self.work, &self.closed);
        self.snap.report(registry, events, |i, e| {
            if closed[i] {
                bits::NVAL | bits::ERR
            } else {
                ready_bits(work, e)
            }
        });
        Ok(events.len())
    }
}

/// Boxed: the `fd_set`s keep 256 descriptors inline, twice, and a
/// selector's waiting side should not be that large on every backend.
impl Wait for Box<Waiter> {
    type Registry = Registry;

    fn open() -> io::Result<(Registry, Box<Waiter>)> {
        Ok((Registry::new(Backend::Select)?, Box::default()))
    }

    fn select(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        if let Some(table) = registry.begin_wait(&mut self.generation) {
            self.rebuild(registry, &table);
        }
        self.work.copy_from(&self.template);
        let result = self.work.select_once(remaining);
        registry.end_wait();
        match result {
            Ok(0) => return Ok(0),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(Errno::BADF.raw_os_error()) => {
                return self.report_closed(registry, events, e);
            }
            Err(e) => return Err(e),
        }
        if self.work.read.contains(registry.notifier.as_raw_fd()) {
            registry.notifier.drain();
        }
        self.report_ready(registry, events);
        Ok(events.len())
    }
}

/// What select reported for `e`, as event bits.
fn ready_bits(work: &FdSets, e: &Entry) -> u32 {
    let mut flags = 0;
    if work.read.contains(e.fd) {
        flags |= bits::IN;
    }
    if work.write.contains(e.fd) {
        flags |= bits::OUT;
    }
    if work.except.contains(e.fd) {
        flags |= bits::PRI;
    }
    flags
}
