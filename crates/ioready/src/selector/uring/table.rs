//! The io_uring backend's table: one slot per registration (its
//! generation outlives it), the descriptor index, and the queue of
//! submission entries that the next wait submits. Every change to a
//! registration is a change here, under the registry's lock, and at most an
//! entry in the queue: no system call.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

use super::super::own::OwnFds;
use crate::error::{already_registered, not_registered};
use crate::event::{Interest, Token, Trigger};
use crate::sys::notify::Notifier;

/// `user_data` of poll removals (their completions are ignored, and
/// skipped altogether on success where the kernel can).
pub(super) const REMOVE_UD: u64 = u64::MAX;
/// `user_data` of the multishot poll on the internal notifier.
pub(super) const NOTIFY_UD: u64 = u64::MAX - 1;

/// One registration.
#[derive(Debug)]
pub(super) struct Reg {
    pub(super) fd: RawFd,
    pub(super) token: Token,
    pub(super) interest: Interest,
    pub(super) trigger: Trigger,
    /// A poll request is queued or in the kernel (its completion not yet
    /// reaped). False for a oneshot registration that fired, a level one
    /// between its report and its re-arm, a closed descriptor.
    pub(super) armed: bool,
    /// That request is still in `Table::queue` (not yet submitted): a
    /// change takes it out instead of queueing its removal.
    pub(super) queued: bool,
    /// A completion with `IORING_CQE_F_MORE` came for the current request:
    /// it was a live multishot poll, so a completion without the flag means
    /// the kernel ended it (overflow, cancellation) and it must be re-armed;
    /// without one, a first completion without the flag means the file
    /// cannot be polled at all (a regular file: ready once, for edge).
    pub(super) more_seen: bool,
    /// The wait that last reported this registration, and where in
    /// `events`: a second completion in the same wait (a multishot poll
    /// woken twice) is merged into that event.
    pub(super) reported_in: u64,
    pub(super) event_index: u32,
    /// Completions numbered below this (see `Waiter::consumed`) were in the
    /// completion queue before the wait that last reported this
    /// registration returned: that report covered them (two wakes before a
    /// wait are one event, as on epoll), so they are dropped.
    pub(super) seen_upto: u64,
    /// Level or oneshot, waiting on a multishot poll instead of a
    /// single-shot one: the last single-shot poll completed with nothing
    /// asked for (the kernel always adds `POLLRDHUP`, `POLLERR` and
    /// `POLLHUP`, so a half-closed socket whose send buffer is full
    /// completes a WRITABLE-only poll at once, every time). A multishot
    /// poll completes on wake-ups only, so it waits without spinning for
    /// what was asked; when that comes it is reported and the registration
    /// goes back to single-shot polls.
    pub(super) parked: bool,
    /// The number names one of the selector's own descriptors (the
    /// caller's was closed and its number reused): nothing is asked of the
    /// kernel, and it is reported invalid, as a closed number.
    pub(super) shadowed: bool,
    /// A waker's eventfd, kept open while registered.
    pub(super) waker: Option<Arc<Notifier>>,
}

impl Reg {
    /// A registration not yet armed.
    pub(super) fn new(
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
        waker: Option<Arc<Notifier>>,
    ) -> Reg {
        Reg {
            fd,
            token,
            interest,
            trigger,
            armed: false,
            queued: false,
            more_seen: false,
            reported_in: 0,
            event_index: 0,
            seen_upto: 0,
            parked: false,
            shadowed: false,
            waker,
        }
    }
}

/// A slot of the table: its generation survives the registration.
#[derive(Debug, Default)]
pub(super) struct Slot {
    pub(super) generation: u32,
    pub(super) reg: Option<Reg>,
}

#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) slots: Vec<Slot>,
    pub(super) free: Vec<u32>,
    pub(super) by_fd: HashMap<RawFd, u32>,
    /// Submission entries for the next wait.
    pub(super) queue: Vec<squeue::Entry>,
    /// `IOSQE_CQE_SKIP_SUCCESS` for removals, where the kernel has it.
    pub(super) skip_success: bool,
    /// The selector's own numbers (see `OwnFds`).
    pub(super) own: OwnFds,
    /// Slots of shadowed registrations to report in the next wait.
    pub(super) shadowed: Vec<u32>,
    /// The requests whose removal is in `queue`, not yet submitted: each
    /// still holds its file, so a deregister cancels them at once.
    pub(super) removing: Vec<u64>,
}

pub(super) fn user_data(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

impl Table {
    /// Queues the poll request of slot `index` (the registration's mode).
    /// A parked registration gets a multishot poll; a shadowed one none
    /// (it is reported from `shadowed`).
    pub(super) fn arm(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        let Some(reg) = slot.reg.as_mut() else { return };
        reg.armed = true;
        reg.more_seen = false;
        if reg.waker.is_none() && self.own.contains(reg.fd) {
            reg.shadowed = true;
            reg.queued = false;
            self.shadowed.push(index);
            return;
        }
        reg.shadowed = false;
        reg.queued = true;
        let entry = opcode::PollAdd::new(types::Fd(reg.fd), reg.interest.event_bits())
            .multi(reg.trigger == Trigger::Edge || reg.parked)
            .build()
            .user_data(user_data(index, slot.generation));
        self.queue.push(entry);
    }

    /// Queues the removal of slot `index`'s request, if it has one, and
    /// moves the slot to a new generation (so the request's completions,
    /// and anything else in flight for it, are stale from now on).
    pub(super) fn disarm(&mut self, index: u32) {
        self.disarm_then(index, true);
    }

    /// [`disarm`](Self::disarm); with `remove` false, a request in the
    /// kernel is left for the caller to cancel. Returns its `user_data` if
    /// there is one.
    pub(super) fn disarm_then(&mut self, index: u32, remove: bool) -> Option<u64> {
        let slot = &self.slots[index as usize];
        let (armed, queued, shadowed) = slot
            .reg
            .as_ref()
            .map_or((false, false, false), |r| (r.armed, r.queued, r.shadowed));
        let ud = user_data(index, slot.generation);
        let mut in_kernel = None;
        if shadowed {
            // Nothing in the kernel: only a report to forget.
            if let Some(i) = self.shadowed.iter().position(|&s| s == index) {
                self.shadowed.swap_remove(i);
            }
        } else if queued {
            // Never submitted: take it back (the queue holds the changes of
            // one wait, so the search is short).
            if let Some(i) = self.queue.iter().position(|e| e.get_user_data() == ud) {
                self.queue.swap_remove(i);
            }
        } else if armed {
            in_kernel = Some(ud);
            if remove {
                let entry = self.remove_entry(ud);
                self.queue.push(entry);
                self.removing.push(ud);
            }
        }
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        if let Some(reg) = slot.reg.as_mut() {
            reg.armed = false;
            reg.queued = false;
            reg.shadowed = false;
            reg.parked = false;
        }
        in_kernel
    }

    /// The removal of the poll request `ud`.
    pub(super) fn remove_entry(&self, ud: u64) -> squeue::Entry {
        let entry = opcode::PollRemove::new(ud).build().user_data(REMOVE_UD);
        if self.skip_success {
            entry.flags(squeue::Flags::SKIP_SUCCESS)
        } else {
            entry
        }
    }

    /// Inserts and arms `reg`. A waker's slot is not in `by_fd` (its number
    /// is the selector's own: a caller's stale registration of that number
    /// stays the caller's, shadowed, and cannot reach the waker); it returns
    /// the slot.
    pub(super) fn insert(&mut self, reg: Reg) -> io::Result<u32> {
        let own = reg.waker.is_some();
        if !own && self.by_fd.contains_key(&reg.fd) {
            return Err(already_registered(reg.fd));
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                // Indices stay below NOTIFY_UD's (u32::MAX - 1 and up).
                if self.slots.len() >= (u32::MAX - 2) as usize {
                    return Err(io::Error::from(io::ErrorKind::OutOfMemory));
                }
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        if own {
            self.own.add(reg.fd);
            // A caller's registration of the number whose poll is not yet
            // submitted would now poll the waker: shadow it instead. (One in
            // the kernel polls the caller's closed file, which it holds, and
            // is shadowed when it is re-armed.)
            if let Some(&user) = self.by_fd.get(&reg.fd) {
                let queued = self.slots[user as usize]
                    .reg
                    .as_ref()
                    .is_some_and(|r| r.queued);
                if queued {
                    self.disarm(user);
                    self.arm(user);
                }
            }
        } else {
            self.by_fd.insert(reg.fd, index);
        }
        self.slots[index as usize].reg = Some(reg);
        self.arm(index);
        Ok(index)
    }

    /// The slot of the waker whose eventfd is `notifier`.
    pub(super) fn waker_index(&self, notifier: &Arc<Notifier>) -> Option<u32> {
        let i = self.slots.iter().position(|s| {
            s.reg
                .as_ref()
                .and_then(|r| r.waker.as_ref())
                .is_some_and(|w| Arc::ptr_eq(w, notifier))
        })?;
        Some(i as u32)
    }

    pub(super) fn index(&self, fd: RawFd) -> io::Result<u32> {
        self.by_fd
            .get(&fd)
            .copied()
            .ok_or_else(|| not_registered(fd))
    }
}
