//! The poll(2) backend: waits on a `pollfd` array rebuilt from the
//! registration table only when the table changes.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::dispatch::Wait;
use super::table::{Registry, Snapshot, Table};
use super::Backend;
use crate::event::Events;
use crate::sys::poll::{poll_once, pollfd, to_event_bits, to_poll_flags, PollFd, PollFlags};

/// The waiting side of the poll backend (its shared side is the table's
/// registry): the waiting thread's snapshot: `fds[0]` is the table's notifier,
/// `fds[i + 1]` belongs to `snap.entries[i]`.
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    generation: Option<u64>,
    fds: Vec<PollFd<'static>>,
    snap: Snapshot,
}

impl Waiter {
    fn rebuild(&mut self, registry: &Registry, table: &Table) {
        self.fds.clear();
        self.snap.clear();
        self.fds
            .push(pollfd(registry.notifier.as_raw_fd(), PollFlags::IN));
        for (slot, e) in Snapshot::armed(table) {
            // A shadowed entry asks for nothing (its number is the
            // selector's own eventfd, which has no error or hang-up to
            // report) and is reported invalid by `report`.
            let flags = if self.snap.push(registry, slot, e) {
                PollFlags::empty()
            } else {
                to_poll_flags(e.interest.event_bits())
            };
            self.fds.push(pollfd(e.fd, flags));
        }
    }
}

impl Wait for Waiter {
    type Registry = Registry;

    fn open() -> io::Result<(Registry, Waiter)> {
        Ok((Registry::new(Backend::Poll)?, Waiter::default()))
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
        let result = poll_once(&mut self.fds, remaining);
        registry.end_wait();
        if result? == 0 {
            return Ok(0);
        }
        if !self.fds[0].revents().is_empty() {
            registry.notifier.drain();
        }
        let fds = &self.fds;
        self.snap
            .report(registry, events, |i, _| to_event_bits(fds[i + 1].revents()));
        Ok(events.len())
    }
}
