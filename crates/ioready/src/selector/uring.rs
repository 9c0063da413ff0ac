//! The io_uring backend (Linux, feature `uring`): readiness through
//! `IORING_OP_POLL_ADD` requests on a [`Ring`], every registration change
//! queued as a submission entry that rides in the next wait's single
//! `io_uring_enter`.
//!
//! # How each mode is made
//!
//! * **Level** (the default): a single-shot poll, re-armed in the next
//!   wait's submission for each descriptor it reported. A poll checks
//!   readiness when it is armed, so a descriptor still ready is reported
//!   again by the next wait: level semantics, one system call per wait.
//!   (Multishot polls behave edge-like on Linux 6.x, and
//!   `IORING_POLL_ADD_LEVEL` is refused with `EINVAL`.)
//! * **Edge**: a multishot poll, armed once; re-armed only if the kernel
//!   ends a live one (a completion without `IORING_CQE_F_MORE` after one
//!   with it, or while the completion queue overflowed). The new poll
//!   checks readiness when armed, so after an overflow an edge registration
//!   that is still ready is reported once more (a spurious edge; edge users
//!   read until `WouldBlock` anyway). A file that cannot be polled (a
//!   regular file) gets one completion and is reported once, as on epoll.
//! * **Oneshot**: a single-shot poll, re-armed by `reregister`.
//! * **What is reported** is what epoll would report: the result masked by
//!   the interest; a poll that completes with nothing asked for (the kernel
//!   adds `POLLRDHUP` to every request) parks the registration on a
//!   multishot poll instead of spinning; a completion that may be old news,
//!   or that carries a wake-up's `PRI`, is checked against the descriptor's
//!   state first (one `poll(2)` per wait, only then). All in `uring/reap.rs`.
//! * **The selector's own descriptors** (ring, notifier, wakers) cannot be
//!   registered through their numbers; a caller's stale registration of
//!   such a number is reported invalid (see `Reg::shadowed`).
//! * **Wakers**: an eventfd each, under a multishot poll: a `wake` is one
//!   `write`, and the selector reads the eventfd only to re-arm the poll
//!   after an overflow ended it (so one wake is never reported twice).
//!
//! # Threads
//!
//! Only the waiting thread submits. A registration from another thread is
//! queued, and if a wait is in progress, that wait is woken through an
//! internal eventfd (one `write`), submits the queued entries and goes on
//! waiting: the registration takes effect in that wait, as on epoll. So
//! every poll request belongs to the waiting thread, whose task runs its
//! completion work.
//!
//! That is why this ring is set up **without** `SINGLE_ISSUER` and
//! `DEFER_TASKRUN`: a [`Selector`](crate::Selector) is `Send`, and may wait
//! on one thread today and on another tomorrow, which a single-issuer ring
//! refuses (`EEXIST`) for the rest of its life. The cost is small here: a
//! readiness wait posts few completions.
//!
//! # user_data, generations, descriptor reuse
//!
//! Each registration has a slot; a request's `user_data` is the slot's
//! index and its generation, bumped on every change (reregister,
//! deregister). A completion whose generation is not the slot's current one
//! is stale (a cancelled request, or one that raced the change) and is
//! dropped, so a descriptor number that is deregistered, closed, reused and
//! registered again is never reported under its old token, nor the old
//! file under the new one.
//!
//! # Costs
//!
//! Register, reregister and every re-arm: no system call (one `write` to
//! the internal eventfd only when another thread is blocked in the wait).
//! Deregister: none either, unless the registration's poll request is armed
//! in the kernel; that one holds the file, so it is cancelled at once
//! (`IORING_REGISTER_SYNC_CANCEL`, one call, Linux 6.0; on older kernels the
//! removal rides in the next wait), and a close right after the deregister
//! really closes the file, as on epoll, instead of leaving it open until
//! the next wait (with input arriving meanwhile, the close would then send
//! the peer a reset). A wait: one `io_uring_enter` that submits the queued changes
//! and waits, with its timeout in the call's own argument (nanoseconds). No
//! allocation per wait: the queue of changes and the slot table keep their
//! capacity.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use io_uring::{opcode, types};

use super::dispatch::{Driver, Wait};
use crate::event::{Events, Interest, Token, Trigger};
use crate::sys::event::bits;
use crate::sys::notify::Notifier;
use crate::sys::uring::{sync_cancel, Capability, Ring};

mod reap;
mod table;

use reap::Recheck;
use table::{Reg, Table, NOTIFY_UD};

/// Submission entries of the selector's ring. More changes than this
/// between two waits cost one extra `io_uring_enter` per this many.
const SQ_ENTRIES: u32 = 256;
/// Completion entries: every armed single-shot poll posts at most one
/// completion per wait, so this bounds how many descriptors can be ready at
/// once without the kernel's overflow list (which loses nothing, with
/// `IORING_FEAT_NODROP`, but costs a copy).
const CQ_ENTRIES: u32 = 4096;

/// The shared side: the slot table and the queue of changes, behind one
/// lock, and the internal notifier that wakes a wait in progress.
#[derive(Debug)]
pub(crate) struct Registry {
    table: Mutex<Table>,
    /// A descriptor of the ring, for cancelling from any thread; taken away
    /// (closed) when the selector goes, so the ring dies with it.
    ring_fd: Arc<Mutex<Option<OwnedFd>>>,
    /// True while the waiting thread is (about to be) inside the enter.
    waiting: AtomicBool,
    notifier: Notifier,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Every change to the table completes before the lock is released
        // or cannot panic half-way, so a poisoned lock is still consistent.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes a change made under the lock: if a wait is in progress it
    /// is woken to submit it.
    fn changed(&self) -> io::Result<()> {
        if self.waiting.load(Ordering::SeqCst) {
            self.notifier.notify()?;
        }
        Ok(())
    }

    /// Cancels the request `ud` at once (one system call); false if the
    /// kernel cannot.
    fn cancel_now(&self, ud: u64) -> bool {
        match &*self.ring_fd.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(ring) => sync_cancel(ring.as_fd(), ud).is_ok(),
            None => true, // the selector is gone: its ring cancelled all
        }
    }

    /// Ends the registration in slot `index` (a caller's or a waker's).
    fn remove(&self, index: u32) -> io::Result<()> {
        let (waker, in_kernel) = {
            let mut table = self.lock();
            let in_kernel = table.disarm_then(index, false);
            table.free.push(index);
            let reg = table.slots[index as usize].reg.take();
            let waker = reg.and_then(|r| {
                if r.waker.is_some() {
                    table.own.remove(r.fd);
                } else {
                    table.by_fd.remove(&r.fd);
                }
                r.waker
            });
            (waker, in_kernel)
        };
        // A request in the kernel holds the file: cancel it now (one
        // system call), not at the next wait, so that a close right after
        // this really closes (as on epoll), instead of later, perhaps with
        // unread input (a reset for the peer). Without the table lock: the
        // cancellation may need the waiting thread to run.
        if let Some(ud) = in_kernel {
            if !self.cancel_now(ud) {
                // A kernel without synchronous cancellation (before 6.0):
                // the removal rides in the next wait.
                let mut table = self.lock();
                let entry = table.remove_entry(ud);
                table.queue.push(entry);
            }
        }
        // So are the requests of this slot replaced by a `reregister` since
        // the last wait, whose removals are still queued.
        loop {
            let ud = {
                let mut table = self.lock();
                match table.removing.iter().position(|&ud| ud as u32 == index) {
                    Some(i) => table.removing.swap_remove(i),
                    None => break,
                }
            };
            // Failing, the queued removal does it at the next wait.
            self.cancel_now(ud);
        }
        // A waker's eventfd is closed (by its last `Arc`) only now, after
        // its request is cancelled.
        drop(waker);
        self.changed()
    }
}

/// The waiting side: the ring itself (only the waiting thread touches it)
/// and the number of the current wait.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// Boxed: the ring keeps its opcode probe (2 KiB) inline.
    ring: Box<Ring>,
    /// The registry's descriptor of the ring, taken away on drop.
    ring_fd: Arc<Mutex<Option<OwnedFd>>>,
    wait_no: u64,
    /// How many completions were consumed so far: a completion's number
    /// is this count when it is consumed, which orders it against the
    /// reports (see `Reg::seen_upto`) and against the start of a wait.
    consumed: u64,
    /// Completions numbered below this were in the queue before this
    /// wait's enter: they may describe a state that is gone.
    old_end: u64,
    /// Completions to check against the descriptor's state before they
    /// are reported (kept: no allocation per wait).
    recheck: Recheck,
}

impl Driver for Registry {
    type Waker = Waker;

    fn register(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        {
            let mut table = self.lock();
            table.own.check(fd, "register")?;
            table.insert(Reg::new(fd, token, interest, trigger, None))?;
        }
        self.changed()
    }

    fn reregister(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        {
            let mut table = self.lock();
            let index = table.index(fd)?;
            table.disarm(index);
            if let Some(reg) = table.slots[index as usize].reg.as_mut() {
                reg.token = token;
                reg.interest = interest;
                reg.trigger = trigger;
            }
            table.arm(index);
        }
        self.changed()
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        let index = self.lock().index(fd)?;
        self.remove(index)
    }

    fn waker(self: &Arc<Self>, token: Token) -> io::Result<Waker> {
        let notifier = Arc::new(Notifier::new()?);
        self.lock().insert(Reg::new(
            notifier.as_fd().as_raw_fd(),
            token,
            Interest::READABLE,
            Trigger::Edge,
            Some(notifier.clone()),
        ))?;
        self.changed()?;
        Ok(Waker {
            notifier,
            registry: self.clone(),
        })
    }

    fn wake(w: &Waker) -> io::Result<()> {
        w.notifier.notify()
    }
}

impl Wait for Waiter {
    type Registry = Registry;

    /// Builds the selector's ring and its registry.
    fn open() -> io::Result<(Registry, Waiter)> {
        // Not single-issuer (see the module documentation): the selector may
        // move between threads. Nor a registered ring descriptor: it lives in
        // the registering thread's table, so a selector dropped on another
        // thread could not give it back, and the ring (with every file its
        // requests hold) would live on until that thread exits.
        let ring = Ring::builder()
            .entries(SQ_ENTRIES)
            .cq_entries(CQ_ENTRIES)
            .single_issuer(false)
            .register_ring_fd(false)
            .require(Capability::PollMultishot)
            .build()?;
        let mut table = Table {
            skip_success: ring.params().is_feature_skip_cqe_on_success(),
            ..Table::default()
        };
        let ring_dup = rustix::io::fcntl_dupfd_cloexec(ring.as_fd(), 0)?;
        let notifier = Notifier::new()?;
        table.own = super::own::OwnFds::new(&[
            ring.as_fd().as_raw_fd(),
            ring_dup.as_raw_fd(),
            notifier.as_raw_fd(),
        ]);
        let ring_fd = Arc::new(Mutex::new(Some(ring_dup)));
        let registry = Registry {
            table: Mutex::new(table),
            ring_fd: ring_fd.clone(),
            waiting: AtomicBool::new(false),
            notifier,
        };
        let mut waiter = Waiter {
            ring: Box::new(ring),
            ring_fd,
            wait_no: 0,
            consumed: 0,
            old_end: 0,
            recheck: Recheck::default(),
        };
        waiter.arm_notifier(&registry)?;
        Ok((registry, waiter))
    }

    /// One wait: submit the queued changes and wait, in one enter; then
    /// report what completed.
    fn select(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        let submitting = {
            let mut guard = registry.lock();
            let table = &mut *guard;
            let submitting = !table.queue.is_empty();
            let mut pushed = 0;
            let mut failed = None;
            for entry in &table.queue {
                // SAFETY: poll requests and removals name descriptors only
                // (no buffers). A descriptor closed before the request is
                // submitted fails it with EBADF, reported below; the
                // kernel's request holds its own reference to the file.
                if let Err(e) = unsafe { self.ring.push(entry) } {
                    failed = Some(e);
                    break;
                }
                pushed += 1;
            }
            // The pushed ones are the kernel's now (in the submission queue
            // if not yet submitted); the rest stay queued for the retry.
            for entry in table.queue.drain(..pushed) {
                let ud = entry.get_user_data();
                if let Some(reg) = table
                    .slots
                    .get_mut(ud as u32 as usize)
                    .filter(|s| s.generation == (ud >> 32) as u32)
                    .and_then(|s| s.reg.as_mut())
                {
                    reg.queued = false;
                }
            }
            if table.queue.is_empty() {
                table.removing.clear();
            }
            if let Some(e) = failed {
                return Err(e);
            }
            registry.waiting.store(true, Ordering::SeqCst);
            submitting
        };
        // When the enter submits, the kernel reports the submission rather
        // than the wait's end (a timeout or a signal): the clock tells them
        // apart, read only then.
        let start = match remaining {
            Some(d) if submitting && !d.is_zero() => Some(std::time::Instant::now()),
            _ => None,
        };
        // Overflowed completions end multishot polls: seen before the
        // enter (which flushes the overflow list) or after it.
        let overflow_before = self.ring.submission().cq_overflow();
        // What is in the queue now came before this wait (one load).
        self.old_end = self.consumed + self.ring.completion().len() as u64;
        let result = self.ring.submit_and_wait(1, remaining);
        registry.waiting.store(false, Ordering::SeqCst);
        let mut submitted = false;
        match result {
            Ok(n) => submitted = n > 0,
            // Completions waiting in the overflow list: reap, then go on.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted || self.ring.completion().is_empty() {
                    return Err(e);
                }
            }
        }
        let mut overflow = overflow_before || self.ring.submission().cq_overflow();
        self.wait_no += 1;
        let mut reaped = self.reap(registry, events, overflow)?;
        // Completions the kernel kept in its overflow list (more ready at
        // once than the completion queue holds): flush them (one more enter,
        // only then) while `events` has room.
        while events.len() < events.capacity() && self.ring.submission().cq_overflow() {
            overflow = true;
            match self.ring.submit_and_wait(0, Some(Duration::ZERO)) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => return Err(e),
            }
            let more = self.reap(registry, events, overflow)?;
            if more == 0 {
                break;
            }
            reaped += more;
        }
        if reaped == 0 && submitted && events.is_empty() {
            let interrupted = match (remaining, start) {
                (None, _) => true,
                (Some(d), Some(t)) => t.elapsed() < d,
                _ => false,
            };
            if interrupted {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
        }
        Ok(events.len())
    }
}

impl Waiter {
    fn arm_notifier(&mut self, registry: &Registry) -> io::Result<()> {
        let entry =
            opcode::PollAdd::new(types::Fd(registry.notifier.as_fd().as_raw_fd()), bits::IN)
                .multi(true)
                .build()
                .user_data(NOTIFY_UD);
        // SAFETY: the notifier's eventfd lives in the registry, which the
        // selector keeps (with this waiter) for as long as the ring; a poll
        // request holds no buffer.
        unsafe { self.ring.push(&entry) }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // The ring dies with the selector, not with the last registry
        // clone: its requests are cancelled and their files let go of.
        self.ring_fd
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

/// The io_uring waker: its own eventfd under a multishot poll, registered
/// in the table (which keeps it open while registered).
#[derive(Debug)]
pub(crate) struct Waker {
    notifier: Arc<Notifier>,
    registry: Arc<Registry>,
}

impl Drop for Waker {
    fn drop(&mut self) {
        let index = self.registry.lock().waker_index(&self.notifier);
        if let Some(index) = index {
            let _ = self.registry.remove(index);
        }
    }
}
