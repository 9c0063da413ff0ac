//! The select(2) backend: three `fd_set` templates rebuilt from the
//! registration table only when it changes, copied before each wait. The
//! sets grow with the highest descriptor, so there is no `FD_SETSIZE` limit.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::table::{self, Entry, Registry, Table, TableDriver, TableWaiter};
use super::Backend;
use crate::event::{Events, Interest};
use crate::sys::event::bits;
use crate::sys::select::FdSets;
use crate::sys::{is_open, Errno};

/// The select backend (see [`Driver`](super::dispatch::Driver)). Boxed:
/// its `fd_set`s are kept inline.
pub(crate) type Select = TableDriver<Box<Waiter>>;

#[derive(Debug, Default)]
pub(crate) struct Waiter {
    generation: Option<u64>,
    template: FdSets,
    work: FdSets,
    entries: Vec<Entry>,
    /// The entry the next report starts from: where the last wait stopped
    /// because `events` was full, so that descriptors past a full buffer
    /// are not starved by the first ones (see the poll backend).
    next: usize,
}

impl Waiter {
    fn rebuild(&mut self, registry: &Registry, table: &Table) {
        self.entries.clear();
        self.template.clear();
        self.template.read.insert(registry.notifier.as_raw_fd());
        for e in table.entries.iter().filter(|e| e.armed) {
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
            self.entries.push(e.clone());
        }
    }

    fn report_ready(&mut self, registry: &Registry, events: &mut Events) {
        let work = &self.work;
        let entries = &self.entries;
        table::report(registry, entries, &mut self.next, events, |i| {
            ready_bits(work, &entries[i])
        });
    }

    /// select(2) failed with `EBADF`: a registered descriptor was closed.
    /// Reports each closed one as invalid (like poll's `POLLNVAL`), then
    /// selects again at once without them, so that the other descriptors
    /// are still reported. If no closed one can be found, returns the error.
    fn report_closed(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        err: io::Error,
    ) -> io::Result<usize> {
        self.work.copy_from(&self.template);
        let mut closed = 0;
        for e in &self.entries {
            if !is_open(e.fd) {
                closed += 1;
                self.work.read.remove(e.fd);
                self.work.write.remove(e.fd);
                self.work.except.remove(e.fd);
                // A full buffer still counts it: the next wait reports it.
                let _ = events.push(e.token, bits::NVAL | bits::ERR);
            }
        }
        if closed == 0 {
            return Err(err);
        }
        if let Ok(n) = self.work.select_once(Some(Duration::ZERO)) {
            if n > 0 {
                self.report_ready(registry, events);
            }
        }
        Ok(events.len())
    }
}

impl TableWaiter for Waiter {
    const BACKEND: Backend = Backend::Select;

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
