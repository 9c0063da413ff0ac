//! From completions to events: what the io_uring backend reports of a
//! poll's completion, and how it re-arms, so that it reports what epoll
//! would, and never spins.
//!
//! A poll completion is not the descriptor's state, in four ways, each
//! handled here:
//!
//! * **Bits nobody asked for.** The kernel adds `POLLRDHUP`, `POLLERR` and
//!   `POLLHUP` to every poll request. The result is masked by the interest
//!   (plus `ERR`/`HUP`, which epoll reports always), and `POLLRDHUP` stays
//!   only when `READ_CLOSED` was asked.
//! * **A completion with nothing asked for** (a half-closed socket, whose
//!   `POLLRDHUP` lasts, under a WRITABLE-only registration whose send buffer
//!   is full): a new single-shot poll would complete at once, forever. The
//!   registration is *parked* on a multishot poll instead, which completes
//!   on wake-ups only (see `Reg::parked`).
//! * **A wake-up's notice rather than the state.** A poll woken with a
//!   notice takes it as its result: a socket's data notice names
//!   `EPOLLPRI` with `EPOLLIN`. A result with `PRI` is checked.
//! * **Old news.** A completion that waited in the queue (`Events` was
//!   full, or it came between two waits) may describe a state the caller
//!   has changed since: a pipe drained, a timer cancelled, signals
//!   received. One that a report already covered (`Reg::seen_upto`) is
//!   dropped; the others are checked.
//!
//! *Checked* means: the descriptor's state now, from one `poll(2)` with a
//! zero timeout for all the completions of a wait that need it (the kernel's
//! answer for the same interest, as epoll asks the file again before it
//! reports). A completion that arrived during the wait and carries no
//! `PRI` (the common case: the one-syscall wait) is reported as it is.
//!
//! A poll the kernel refuses with `EINVAL` (a regular file asked for
//! PRIORITY or READ_CLOSED alone: no wait queue, nothing ready) is never
//! ready, as `poll(2)` and epoll say: nothing is reported and it is not
//! re-armed until the registration changes.

use std::io;
use std::time::Duration;

use io_uring::cqueue;

use super::table::{Table, NOTIFY_UD, REMOVE_UD};
use super::{Registry, Waiter};
use crate::event::{Events, Trigger};
use crate::sys::event::{self, bits};
use crate::sys::poll::{poll_once, pollfd, to_event_bits, to_poll_flags, PollFd};

/// Completions waiting for the state check of their wait.
#[derive(Debug, Default)]
pub(super) struct Recheck {
    /// Slot, generation, whether the poll is still armed (multishot), and
    /// the completion's own flags (0: it had nothing asked for).
    items: Vec<(u32, u32, bool, u32)>,
    fds: Vec<PollFd<'static>>,
}

/// Checks reserved ahead (see `Waiter::reap`): 24 bytes each.
const PRE_RESERVED: usize = 256;

/// What became of a completion, for the re-arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Reported.
    Reported,
    /// Nothing to report: covered by an earlier report, ended by the
    /// kernel, or not ready when checked.
    Nothing,
    /// Completed with nothing the registration asked for.
    Unasked,
    /// The kernel refused the poll (`EINVAL`): never ready.
    Refused,
}

/// The bits a registration with `interest_bits` is reported with: those,
/// and the errors and hang-ups epoll reports always.
#[inline]
fn mask(interest_bits: u32) -> u32 {
    interest_bits | bits::ERR | bits::HUP | bits::NVAL
}

impl Waiter {
    /// Reaps completions into `events` while it has room; returns how many
    /// completions it consumed (reported or not).
    pub(super) fn reap(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        overflow: bool,
    ) -> io::Result<usize> {
        let wait_no = self.wait_no;
        // Room for the checks of a usual wait, taken in the first one (for
        // up to `PRE_RESERVED` events), so that later ones allocate nothing.
        let room = events.capacity().min(PRE_RESERVED);
        if self.recheck.items.capacity() < room {
            self.recheck.items.reserve(room);
            self.recheck.fds.reserve(room);
        }
        let mut table = registry.lock();
        report_shadowed(&mut table, events, wait_no);
        let mut rearm_notifier = false;
        let mut consumed = 0;
        let mut cq = self.ring.completion();
        // Completions up to here were posted before the wait returns: a
        // report now covers them.
        let seen_upto = self.consumed + cq.len() as u64;
        loop {
            while events.len() + self.recheck.items.len() < events.capacity() {
                let Some(cqe) = cq.next() else { break };
                consumed += 1;
                let number = self.consumed;
                self.consumed += 1;
                let ud = cqe.user_data();
                if ud == REMOVE_UD {
                    continue;
                }
                if ud == NOTIFY_UD {
                    rearm_notifier |= !cqueue::more(cqe.flags());
                    continue;
                }
                let (index, generation) = (ud as u32, (ud >> 32) as u32);
                let Some(slot) = table.slots.get_mut(index as usize) else {
                    continue;
                };
                if slot.generation != generation {
                    continue; // stale: a removed or replaced request
                }
                let Some(reg) = slot.reg.as_mut() else {
                    continue;
                };
                let more = cqueue::more(cqe.flags());
                if more {
                    reg.more_seen = true;
                } else {
                    reg.armed = false;
                }
                let res = cqe.result();
                let raw = if res >= 0 {
                    res as u32
                } else if res == -libc::EBADF {
                    // The number was closed before the request was
                    // submitted: invalid, as poll(2)'s POLLNVAL.
                    bits::NVAL | bits::ERR
                } else if res == -libc::ECANCELED || res == -libc::EINVAL {
                    0 // ended by the kernel; refused (see below)
                } else {
                    bits::ERR
                };
                let flags = raw & mask(reg.interest.event_bits());
                let old = overflow || number < self.old_end;
                let outcome = if res == -libc::EINVAL {
                    Outcome::Refused
                } else if number < reg.seen_upto || raw == 0 {
                    // Covered by an earlier report; or ended by the kernel.
                    Outcome::Nothing
                } else if flags == 0 && (reg.waker.is_some() || !old) {
                    Outcome::Unasked
                } else if reg.waker.is_none() && (old || flags & bits::PRI != 0) {
                    // Checked below, with the others of this wait; its room
                    // in `events` is kept meanwhile. (An old completion with
                    // nothing asked for too: what was asked may have come
                    // since.)
                    if self.recheck.items.len() == self.recheck.items.capacity() {
                        // Room for as many as this `events` can take, at
                        // once: no allocation in later waits.
                        let room = events.capacity();
                        self.recheck.items.reserve(room);
                        self.recheck.fds.reserve(room);
                    }
                    let asked = to_poll_flags(reg.interest.event_bits());
                    self.recheck.fds.push(pollfd(reg.fd, asked));
                    self.recheck.items.push((index, generation, more, flags));
                    continue;
                } else {
                    report(&mut table, index, events, flags, wait_no, seen_upto);
                    Outcome::Reported
                };
                settle(
                    &mut table,
                    index,
                    outcome,
                    more,
                    overflow || res == -libc::ECANCELED,
                );
            }
            if self.recheck.items.is_empty() {
                break;
            }
            check(
                &mut self.recheck,
                &mut table,
                events,
                wait_no,
                seen_upto,
                overflow,
            );
            if events.len() == events.capacity() {
                break;
            }
        }
        drop(cq);
        drop(table);
        if rearm_notifier {
            registry.notifier.drain();
            self.arm_notifier(registry)?;
        }
        Ok(consumed)
    }
}

/// Asks the kernel for the state of the descriptors in `recheck` (one
/// `poll(2)`, zero timeout) and reports those ready for what was asked.
#[cold]
fn check(
    recheck: &mut Recheck,
    table: &mut Table,
    events: &mut Events,
    wait_no: u64,
    seen_upto: u64,
    overflow: bool,
) {
    let Recheck { items, fds } = recheck;
    if poll_once(fds, Some(Duration::ZERO)).is_err() {
        // Interrupted (or out of memory): report nothing now; the
        // registrations are re-armed and ask the kernel again.
        for fd in fds.iter_mut() {
            fd.clear_revents();
        }
    }
    for ((index, generation, more, completed), fd) in items.drain(..).zip(fds.drain(..)) {
        let current = table
            .slots
            .get(index as usize)
            .is_some_and(|s| s.generation == generation && s.reg.is_some());
        if !current {
            continue;
        }
        let mut flags = to_event_bits(fd.revents());
        if flags & bits::NVAL != 0 {
            // The number was closed after the poll was armed: the request
            // holds the file, which the number no longer names, and its
            // completion is the only word on it.
            flags = completed;
        }
        let outcome = if flags != 0 {
            report(table, index, events, flags, wait_no, seen_upto);
            Outcome::Reported
        } else if completed == 0 {
            // Nothing asked for, then and now: park (see `Reg::parked`).
            Outcome::Unasked
        } else {
            Outcome::Nothing
        };
        settle(table, index, outcome, more, overflow);
    }
}

/// Adds `flags` for slot `index` to `events` (merged into its event if it
/// was reported in this wait already).
fn report(
    table: &mut Table,
    index: u32,
    events: &mut Events,
    flags: u32,
    wait_no: u64,
    seen_upto: u64,
) {
    let Some(reg) = table.slots[index as usize].reg.as_mut() else {
        return;
    };
    reg.seen_upto = seen_upto;
    if reg.reported_in == wait_no {
        let i = reg.event_index as usize;
        if let Some(e) = events.buf.get_mut(i) {
            *e = event::new(event::token(e), event::flags(e) | flags);
        }
    } else {
        reg.reported_in = wait_no;
        reg.event_index = events.len() as u32;
        events.push(reg.token, flags);
    }
}

/// Re-arms (or not) slot `index` after a completion with `outcome`; `more`:
/// its poll is still armed (a live multishot); `ended`: the kernel ended a
/// live multishot poll (overflow, cancellation).
fn settle(table: &mut Table, index: u32, outcome: Outcome, more: bool, ended: bool) {
    let Some(reg) = table.slots[index as usize].reg.as_mut() else {
        return;
    };
    if outcome == Outcome::Refused {
        reg.armed = false;
        return;
    }
    match reg.trigger {
        Trigger::Edge => {
            // Re-armed when the kernel ended a live multishot poll, not
            // when the file cannot be polled at all (a regular file: one
            // completion, reported once).
            if !more && (reg.more_seen || ended) {
                // A waker's eventfd is never read, so a new poll would find
                // it readable at once and report a wake twice: empty it
                // first (only here, after an overflow). A wake after this
                // read makes it readable again and is reported.
                if let Some(w) = &reg.waker {
                    w.drain();
                }
                table.arm(index);
            }
        }
        _ if more => {
            // A parked registration's multishot poll: once it reports, back
            // to single-shot polls (level) or disarmed (oneshot).
            if outcome == Outcome::Reported {
                let level = reg.trigger == Trigger::Level;
                table.disarm(index);
                if level {
                    table.arm(index);
                }
            }
        }
        trigger => {
            match outcome {
                Outcome::Reported => reg.parked = false,
                Outcome::Unasked => reg.parked = true,
                _ => {}
            }
            // Level: always (that is what makes it level); oneshot until
            // it reports.
            if trigger == Trigger::Level || outcome != Outcome::Reported {
                table.arm(index);
            }
        }
    }
}

/// Reports the shadowed registrations (see `Reg::shadowed`) as invalid:
/// level ones in every wait, the others once.
fn report_shadowed(table: &mut Table, events: &mut Events, wait_no: u64) {
    let mut i = 0;
    while i < table.shadowed.len() && events.len() < events.capacity() {
        let index = table.shadowed[i];
        let Some(reg) = table.slots[index as usize].reg.as_mut() else {
            table.shadowed.swap_remove(i);
            continue;
        };
        if reg.reported_in == wait_no {
            i += 1; // reported by an earlier reap of this wait
            continue;
        }
        reg.reported_in = wait_no;
        reg.event_index = events.len() as u32;
        events.push(reg.token, bits::NVAL | bits::ERR);
        match reg.trigger {
            Trigger::Level => i += 1,
            trigger => {
                table.shadowed.swap_remove(i);
                if trigger == Trigger::Oneshot {
                    reg.armed = false;
                }
            }
        }
    }
    // Fair past a full `events`: the reported ones go to the back.
    if i > 0 && i < table.shadowed.len() {
        table.shadowed.rotate_left(i);
    }
}
