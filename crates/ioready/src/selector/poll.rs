//! The poll(2) backend: waits on a `pollfd` array rebuilt from the
//! registration table only when the table changes.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use super::table::{self, Entry, Registry};
use crate::event::{bits, Events};
use crate::timeout;

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

/// `POLL*` bits of this platform to the Linux numbering used in events
/// (the identity on Linux, where the values are the same).
fn to_event_bits(revents: PollFlags) -> u32 {
    const MAP: &[(PollFlags, u32)] = &[
        (PollFlags::IN, bits::IN),
        (PollFlags::PRI, bits::PRI),
        (PollFlags::OUT, bits::OUT),
        (PollFlags::ERR, bits::ERR),
        (PollFlags::HUP, bits::HUP),
        (PollFlags::NVAL, bits::NVAL | bits::ERR),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        (PollFlags::RDHUP, bits::RDHUP),
    ];
    MAP.iter()
        .filter(|(p, _)| revents.intersects(*p))
        .fold(0, |acc, (_, b)| acc | b)
}

fn to_poll_flags(event_bits: u32) -> PollFlags {
    let mut f = PollFlags::empty();
    if event_bits & bits::IN != 0 {
        f |= PollFlags::IN;
    }
    if event_bits & bits::OUT != 0 {
        f |= PollFlags::OUT;
    }
    if event_bits & bits::PRI != 0 {
        f |= PollFlags::PRI;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if event_bits & bits::RDHUP != 0 {
        f |= PollFlags::RDHUP;
    }
    f
}

/// Borrows a registered descriptor number for the `pollfd` array.
fn borrow(fd: std::os::fd::RawFd) -> BorrowedFd<'static> {
    // SAFETY: poll(2) only reads the number and answers POLLNVAL for one that
    // is not open; the waiter does no I/O through it (wakers, which it does
    // drain, are kept open by the `Arc` in their entry).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl Waiter {
    fn rebuild(&mut self, registry: &Registry, generation: u64) {
        let table = registry.lock();
        self.fds.clear();
        self.entries.clear();
        self.fds.push(PollFd::from_borrowed_fd(
            borrow(registry.notifier.as_fd().as_raw_fd()),
            PollFlags::IN,
        ));
        for e in table.entries.iter().filter(|e| e.armed) {
            let flags = to_poll_flags(table::interest_bits(e.interest));
            self.fds.push(PollFd::from_borrowed_fd(borrow(e.fd), flags));
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
        let ts = timeout::to_timespec(remaining);
        let result = rustix::event::poll(&mut self.fds, ts.as_ref());
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
