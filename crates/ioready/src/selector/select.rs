//! The select(2) backend: three `fd_set` templates rebuilt from the
//! registration table only when it changes, copied before each wait. The
//! sets grow with the highest descriptor, so there is no `FD_SETSIZE` limit.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use super::table::{self, Entry, Registry};
use crate::event::{bits, Events, Interest};
use crate::select::FdSets;

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
    fn rebuild(&mut self, registry: &Registry, generation: u64) {
        let table = registry.lock();
        self.entries.clear();
        self.template.read.reset(0);
        self.template.write.reset(0);
        self.template.except.reset(0);
        self.template
            .read
            .insert(registry.notifier.as_fd().as_raw_fd());
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
        self.generation = Some(generation);
    }

    pub(super) fn select(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        let generation = registry.begin_wait();
        if self.generation != Some(generation) {
            self.rebuild(registry, generation);
        }
        self.work.read.copy_from(&self.template.read);
        self.work.write.copy_from(&self.template.write);
        self.work.except.copy_from(&self.template.except);
        // SAFETY: select(2) only reads the numbers and fails with EBADF for
        // one that is not open (handled below); no I/O is done through them.
        let result = unsafe { self.work.select_once(remaining) };
        registry.end_wait();
        match result {
            Ok(0) => return Ok(0),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::BADF.raw_os_error()) => {
                return self.report_closed(registry, events, e);
            }
            Err(e) => return Err(e),
        }
        if self
            .work
            .read
            .contains(registry.notifier.as_fd().as_raw_fd())
        {
            registry.notifier.drain();
        }
        self.report_ready(registry, events);
        Ok(events.len())
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
        self.work.read.copy_from(&self.template.read);
        self.work.write.copy_from(&self.template.write);
        self.work.except.copy_from(&self.template.except);
        let mut closed = 0;
        for e in &self.entries {
            if is_closed(e.fd) {
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
        // SAFETY: as in `select`; the closed numbers were taken out.
        if let Ok(n) = unsafe { self.work.select_once(Some(Duration::ZERO)) } {
            if n > 0 {
                self.report_ready(registry, events);
            }
        }
        Ok(events.len())
    }
}

/// True if `fd` is not an open descriptor.
fn is_closed(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: fcntl(F_GETFD) only asks whether the number is open.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(fd) == Err(rustix::io::Errno::BADF)
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
