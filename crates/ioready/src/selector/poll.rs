//! The poll(2) backend: waits on a `pollfd` array rebuilt from the
//! registration table only when the table changes.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::table::{self, Entry, Registry, Table, TableDriver, TableWaiter};
use super::Backend;
use crate::event::Events;
use crate::sys::poll::{poll_once, pollfd, to_event_bits, to_poll_flags, PollFd, PollFlags};

/// The poll backend (see [`Driver`](super::dispatch::Driver)).
pub(crate) type Poll = TableDriver<Waiter>;

/// The waiting thread's snapshot: `fds[0]` is the table's notifier,
/// `fds[i + 1]` belongs to `entries[i]`.
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    generation: Option<u64>,
    fds: Vec<PollFd<'static>>,
    entries: Vec<Entry>,
    /// The entry the next report starts from: where the last wait stopped
    /// because `events` was full, so that descriptors past a full buffer
    /// are reported by the next wait instead of being starved by the first
    /// ones (as epoll does, which requeues level-triggered events at the
    /// tail).
    next: usize,
}

impl Waiter {
    fn rebuild(&mut self, registry: &Registry, table: &Table) {
        self.fds.clear();
        self.entries.clear();
        self.fds
            .push(pollfd(registry.notifier.as_raw_fd(), PollFlags::IN));
        for e in table.entries.iter().filter(|e| e.armed) {
            let flags = to_poll_flags(e.interest.event_bits());
            self.fds.push(pollfd(e.fd, flags));
            self.entries.push(e.clone());
        }
    }
}

impl TableWaiter for Waiter {
    const BACKEND: Backend = Backend::Poll;

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
        table::report(registry, &self.entries, &mut self.next, events, |i| {
            to_event_bits(fds[i + 1].revents())
        });
        Ok(events.len())
    }
}
