//! [`UringEngine`]: the ring, the provided buffer ring, the slots, and the
//! loop's wait as one `io_uring_enter`.
//!
//! Everything a turn of the loop asks of the kernel is queued as requests
//! and submitted by the enter that waits: the sends of the writes made
//! during the turn (one per connection, its whole buffer), the receives to
//! (re)arm, the poll on the readiness selector's descriptor. The wait's
//! timeout (the next timer) is the enter's own argument (`EXT_ARG`). The
//! completions are taken off the ring into a queue that the loop then
//! dispatches to the transports ([`super::dispatch`]), one at a time, so a
//! callback that raises `SystemExit` leaves the rest queued, not lost.
//!
//! Requests that name a descriptor are pushed only here, right before the
//! enter that submits them: the number is resolved by the kernel at
//! submission, so none may wait in the queue while Python could close the
//! descriptor and reuse its number.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ioready::uring::{cqueue, opcode, squeue, types, BufRing, Capability, Ring};
use pyo3::prelude::*;

use super::slots::{pack, Entry, Kind, Slots};
use crate::ffi::gil::GilReleased;

/// Submission queue entries.
const ENTRIES: u32 = 1024;
/// Completion queue entries: multishot receives post many per submission.
const CQ_ENTRIES: u32 = 8192;
/// Provided buffers, and their size: memory follows data in flight.
const BUFFERS: u16 = 1024;
const BUF_LEN: u32 = 16 * 1024;
/// The buffer group of the receives.
const BGID: u16 = 0;
/// A blocking wait that brought fewer completions than this is followed
/// by a non-blocking enter that takes what became ready meanwhile.
const SMALL_TURN: usize = 16;
/// The longest send of one request (the kernel takes a `u32` length).
const MAX_SEND: usize = 1 << 30;

/// Sizes of an engine (tests make them small, to drive a completion queue
/// overflow and a dry buffer ring).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Sizes {
    pub(crate) entries: u32,
    pub(crate) cq_entries: u32,
    pub(crate) buffers: u16,
    pub(crate) buf_len: u32,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            entries: ENTRIES,
            cq_entries: CQ_ENTRIES,
            buffers: BUFFERS,
            buf_len: BUF_LEN,
        }
    }
}

/// One completion, as reaped.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Cqe {
    pub(crate) user_data: u64,
    pub(crate) result: i32,
    pub(crate) flags: u32,
}

/// The io_uring engine of a loop (see the module): the slots, and the rest
/// (apart, so that a slot and the queues can be borrowed together).
pub(crate) struct UringEngine {
    pub(crate) slots: Slots,
    pub(crate) io: Io,
}

/// The ring, the buffers, and what the turn has queued.
pub(crate) struct Io {
    pub(crate) ring: Ring,
    pub(crate) bufs: BufRing,
    /// Connections with writes to submit this turn: (slot, generation).
    pub(crate) dirty: Vec<(u32, u32)>,
    /// Connections whose receive is to be armed this turn.
    pub(crate) arm: Vec<(u32, u32)>,
    /// Listeners whose accept is to be armed this turn.
    pub(crate) arm_accept: Vec<(u32, u32)>,
    /// Completions reaped, not yet dispatched.
    pub(crate) cqes: VecDeque<Cqe>,
    /// Multishot receives armed and not yet ended (as of the last
    /// dispatch): how many connections a wait can hear from.
    pub(crate) armed_recvs: usize,
    /// The readiness selector's descriptor, polled on the ring.
    selector_fd: RawFd,
    selector_armed: bool,
    /// The selector's poll completed: take its events.
    pub(crate) selector_ready: bool,
}

impl UringEngine {
    /// A ring with multishot accept and receive and provided buffer rings,
    /// polling `selector_fd` (the loop's readiness selector) on it.
    ///
    /// # Errors
    ///
    /// The ring's refusal, naming the reason (seccomp, the sysctl, an old
    /// kernel): the caller falls back to epoll.
    pub(crate) fn open(selector_fd: RawFd, sizes: Sizes) -> io::Result<UringEngine> {
        let ring = Ring::builder()
            .entries(sizes.entries)
            .cq_entries(sizes.cq_entries)
            // The loop may be made on one thread and run on another (one
            // at a time: asyncio allows it), closed on a third: no thread
            // binding (SINGLE_ISSUER, and so DEFER_TASKRUN, would refuse
            // the second thread's enter), no per-thread registration.
            .single_issuer(false)
            .register_ring_fd(false)
            .require(Capability::RecvMultishot)
            .require(Capability::AcceptMultishot)
            .require(Capability::BufRing)
            .require(Capability::Opcode(opcode::AsyncCancel::CODE))
            .require(Capability::Opcode(opcode::Send::CODE))
            .require(Capability::Opcode(opcode::PollAdd::CODE))
            .build()?;
        let bufs = BufRing::new(&ring, BGID, sizes.buffers, sizes.buf_len)?;
        Ok(UringEngine {
            slots: Slots::default(),
            io: Io {
                ring,
                bufs,
                dirty: Vec::with_capacity(64),
                arm: Vec::with_capacity(64),
                arm_accept: Vec::new(),
                cqes: VecDeque::with_capacity(256),
                armed_recvs: 0,
                selector_fd,
                selector_armed: false,
                selector_ready: false,
            },
        })
    }
}

impl Io {
    /// Queues one request.
    ///
    /// # Safety
    ///
    /// As [`Ring::push`]: what the request names stays valid until its last
    /// completion.
    unsafe fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        // SAFETY: forwarded.
        unsafe { self.ring.push(sqe) }
    }

    /// Queues the cancellation of the request `user_data`.
    pub(crate) fn cancel(&mut self, user_data: u64) -> io::Result<()> {
        let sqe = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(pack(Kind::Quiet, 0, 0));
        // SAFETY: a cancellation names no memory nor descriptor.
        unsafe { self.push(&sqe) }
    }

    /// Submits what is queued now, without waiting or reaping (what it
    /// completes is reaped by the turn's wait). Between two waits the
    /// queue holds only cancellations (requests naming a descriptor are
    /// pushed by `flush`, right before the enter).
    ///
    /// # Errors
    ///
    /// The kernel's.
    pub(crate) fn submit_now(&mut self) -> io::Result<()> {
        match self.ring.submit_and_wait(0, Some(Duration::ZERO)) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl UringEngine {
    /// Pushes the turn's requests: sends, receives, accepts, the selector's
    /// poll.
    fn flush(&mut self) -> io::Result<()> {
        while let Some((i, gen)) = self.io.dirty.pop() {
            let Some(Entry::Conn(c)) = self.slots.get_mut(i, gen) else {
                continue;
            };
            c.dirty = false;
            if c.sending || c.transport.is_none() {
                continue;
            }
            if c.inpos >= c.inflight.len() {
                // Nothing left of the last send: this turn's writes.
                if c.wbuf.is_empty() {
                    continue;
                }
                c.inflight.clear();
                std::mem::swap(&mut c.inflight, &mut c.wbuf);
                c.inpos = 0;
            }
            // Else the rest of a short send first (the writes wait behind).
            c.sending = true;
            let sqe = send_sqe(c.fd, &c.inflight, c.inpos, gen, i);
            // SAFETY: `inflight` is owned by the slot, which is not freed
            // (nor the vector touched but to append after it is sent) until
            // the send's completion; the descriptor is checked by the
            // kernel at this turn's submission.
            unsafe { self.io.push(&sqe)? };
        }
        while let Some((i, gen)) = self.io.arm.pop() {
            let bgid = self.io.bufs.bgid();
            let Some(Entry::Conn(c)) = self.slots.get_mut(i, gen) else {
                continue;
            };
            if c.recv_armed || !c.reading || c.transport.is_none() {
                continue;
            }
            c.recv_armed = true;
            self.io.armed_recvs += 1;
            let sqe = opcode::RecvMulti::new(types::Fd(c.fd), bgid)
                .build()
                .user_data(pack(Kind::Recv, gen, i));
            // SAFETY: the buffers are the buffer ring's, which outlives
            // every request (cancelled before it is dropped).
            unsafe { self.io.push(&sqe)? };
        }
        while let Some((i, gen)) = self.io.arm_accept.pop() {
            let Some(Entry::Listener(l)) = self.slots.get_mut(i, gen) else {
                continue;
            };
            if l.armed || l.callback.is_none() {
                continue;
            }
            l.armed = true;
            let sqe = opcode::AcceptMulti::new(types::Fd(l.fd))
                .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
                .build()
                .user_data(pack(Kind::Accept, gen, i));
            // SAFETY: no memory; the descriptor is checked at submission.
            unsafe { self.io.push(&sqe)? };
        }
        if !self.io.selector_armed {
            self.io.selector_armed = true;
            // Single-shot, re-armed after each completion: a re-armed poll
            // checks at once, so the selector's level-triggered readiness
            // is seen again while it lasts (a multishot poll would only
            // report new wake-ups).
            let sqe = opcode::PollAdd::new(types::Fd(self.io.selector_fd), libc::POLLIN as u32)
                .build()
                .user_data(pack(Kind::Selector, 0, 0));
            // SAFETY: no memory; the selector outlives the engine.
            unsafe { self.io.push(&sqe)? };
        }
        Ok(())
    }

    /// The loop's wait: the turn's requests submitted and the completions
    /// awaited (at most `timeout`; none with a zero one) in one
    /// `io_uring_enter`, with the GIL released when it may block; then
    /// every completion reaped into [`cqes`](Self::cqes).
    ///
    /// `sleeping` was set by the caller before its last look at the ready
    /// queue (the loop's waker wakes the selector, whose poll is on the
    /// ring); it is cleared here once the enter returns.
    ///
    /// # Errors
    ///
    /// `Interrupted` for a signal (nothing lost: call again); the kernel's
    /// other errors.
    pub(crate) fn wait(
        &mut self,
        py: Python<'_>,
        timeout: Option<Duration>,
        sleeping: &std::sync::atomic::AtomicBool,
    ) -> io::Result<()> {
        self.flush()?;
        let timeout = if self.io.cqes.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        use std::sync::atomic::Ordering;
        let blocking = timeout != Some(Duration::ZERO);
        let result = if !blocking {
            sleeping.store(false, Ordering::Release);
            self.io.ring.submit_and_wait(0, timeout)
        } else {
            let result = {
                // SAFETY: only the enter runs while the GIL is released; no
                // Python object is touched until the drop.
                let _released = unsafe { GilReleased::new(py) };
                self.io.ring.submit_and_wait(1, timeout)
            };
            sleeping.store(false, Ordering::Release);
            result
        };
        match result {
            Ok(_) => {}
            // Completions wait in the kernel's overflow list: reap, then
            // the next enter flushes them into the ring.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => {
                self.reap();
                return Err(e);
            }
        }
        let before = self.io.cqes.len();
        self.reap();
        // A blocking wait returns with the first completion; the kernel
        // posts the others (receives whose data has arrived meanwhile) as
        // it runs their task work. Take them in this turn, as epoll reports
        // every descriptor ready when it wakes: one enter more when the
        // turn is small, instead of one turn per message (which also makes
        // the peers' wake-ups one per message). Not when every connection
        // that can send already did: with one connection the second enter
        // never finds anything (it cost a tenth of a round trip).
        let fresh = self.io.cqes.len() - before;
        if blocking && fresh < SMALL_TURN && fresh < self.io.armed_recvs {
            self.poke()?;
        }
        // A completion queue overflow: the kernel keeps what did not fit
        // (IORING_FEAT_NODROP) and gives it to the next enters; take it now,
        // so no turn reports a partial picture for long.
        let mut rounds = 0;
        while self.io.ring.submission().cq_overflow() && rounds < 16 {
            rounds += 1;
            match self.io.ring.submit_and_wait(0, Some(Duration::ZERO)) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => return Err(e),
            }
            self.reap();
        }
        Ok(())
    }

    /// One enter that waits for nothing: submits what is queued and runs
    /// the kernel's deferred task work (a cancelled request is freed, its
    /// file let go of), then reaps.
    ///
    /// # Errors
    ///
    /// The kernel's.
    pub(crate) fn poke(&mut self) -> io::Result<()> {
        self.io.submit_now()?;
        self.reap();
        Ok(())
    }

    /// Takes the completions off the ring: the selector's poll noted at
    /// once (its events are taken in this turn's wait), the others queued
    /// for dispatch after the turn's callbacks.
    pub(crate) fn reap(&mut self) {
        let UringEngine { slots, io } = self;
        let Io {
            ring,
            cqes,
            dirty,
            selector_armed,
            selector_ready,
            ..
        } = io;
        for cqe in ring.completion() {
            let user_data = cqe.user_data();
            if user_data == pack(Kind::Selector, 0, 0) {
                *selector_armed = false;
                *selector_ready = true;
                continue;
            }
            if let Some((Kind::Send, gen, i)) = super::slots::unpack(user_data) {
                // A send's accounting at once, so that the turn's writes see
                // what the socket took (flow control counts only what it
                // refused); its Python part is dispatched with the others.
                if let Some(Entry::Conn(c)) = slots.get_mut(i, gen) {
                    sent(c, cqe.result(), dirty, i, gen);
                    if c.transport.is_none() && !c.in_flight() {
                        slots.remove(i);
                    }
                }
            }
            cqes.push_back(Cqe {
                user_data,
                result: cqe.result(),
                flags: cqe.flags(),
            });
        }
    }

    /// Cancels every request and waits (a bounded time) for their last
    /// completions, so that no send buffer is freed while the kernel may
    /// still read it. Buffers of requests that did not complete in time are
    /// leaked rather than freed.
    pub(crate) fn shutdown(&mut self) -> Vec<Py<PyAny>> {
        let mut owned = Vec::new();
        let mut targets = Vec::new();
        for (i, slot) in self.slots.iter_mut() {
            match &mut slot.entry {
                Entry::Conn(c) => {
                    c.reading = false;
                    if let Some(t) = c.transport.take() {
                        owned.push(t.into_any());
                    }
                    if c.recv_armed {
                        targets.push(pack(Kind::Recv, slot.gen, i));
                    }
                    if c.sending {
                        targets.push(pack(Kind::Send, slot.gen, i));
                    }
                }
                Entry::Listener(l) => {
                    if let Some(cb) = l.callback.take() {
                        owned.push(cb);
                    }
                    if l.armed {
                        targets.push(pack(Kind::Accept, slot.gen, i));
                    }
                }
                Entry::Free => {}
            }
        }
        for t in targets {
            let _ = self.io.cancel(t);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            let busy = self.slots.iter().any(|s| match &s.entry {
                Entry::Conn(c) => c.sending,
                _ => false,
            });
            if !busy || std::time::Instant::now() >= deadline {
                break;
            }
            let _ = self
                .io
                .ring
                .submit_and_wait(1, Some(Duration::from_millis(50)));
            self.reap();
            while let Some(cqe) = self.io.cqes.pop_front() {
                if let Some((Kind::Send, gen, i)) = super::slots::unpack(cqe.user_data) {
                    if let Some(Entry::Conn(c)) = self.slots.get_mut(i, gen) {
                        c.sending = false;
                    }
                }
            }
        }
        for (_, slot) in self.slots.iter_mut() {
            if let Entry::Conn(c) = &mut slot.entry {
                if c.sending {
                    // The kernel may still read it: never free it.
                    std::mem::forget(std::mem::take(&mut c.inflight));
                }
            }
        }
        owned
    }

    /// The ring's descriptor (for the synchronous cancellation of a
    /// listener's accept).
    pub(crate) fn ring_fd(&self) -> RawFd {
        self.io.ring.as_raw_fd()
    }
}

/// A send of connection `c` (slot `i`) completed with `res`: what it sent
/// is consumed; the rest of a short send, or the writes made meanwhile,
/// are queued for the next flush (never pushed here: requests naming a
/// descriptor are pushed only right before the enter).
fn sent(c: &mut super::slots::Conn, res: i32, dirty: &mut Vec<(u32, u32)>, i: u32, gen: u32) {
    c.sending = false;
    if res < 0 {
        c.inflight.clear();
        c.inpos = 0;
        if res != -libc::ECANCELED && c.transport.is_some() {
            c.wbuf.clear();
            c.send_error = -res;
        }
        return;
    }
    c.inpos += res as usize;
    if c.inpos >= c.inflight.len() {
        c.inflight.clear();
        c.inpos = 0;
    }
    let more = c.inpos > 0 || !c.wbuf.is_empty();
    if more && !c.dirty && c.transport.is_some() {
        c.dirty = true;
        dirty.push((i, gen));
    }
}

/// The send of `data[from..]` for slot `i`.
pub(crate) fn send_sqe(fd: RawFd, data: &[u8], from: usize, gen: u32, i: u32) -> squeue::Entry {
    let rest = &data[from..];
    let len = rest.len().min(MAX_SEND) as u32;
    opcode::Send::new(types::Fd(fd), rest.as_ptr(), len)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(pack(Kind::Send, gen, i))
}

/// Whether a completion says more will come from its request.
pub(crate) fn more(flags: u32) -> bool {
    cqueue::more(flags)
}

/// `struct io_uring_sync_cancel_reg` (Linux 6.0).
#[repr(C)]
struct SyncCancelReg {
    addr: u64,
    fd: i32,
    flags: u32,
    timeout: [i64; 2],
    opcode: u8,
    pad: [u8; 7],
    pad2: [u64; 3],
}

/// `IORING_REGISTER_SYNC_CANCEL`.
const REGISTER_SYNC_CANCEL: libc::c_uint = 24;

/// Cancels request `user_data` and returns once the kernel has let go of
/// it (and of its file): for a listener, whose socket must really close
/// when asyncio closes it (a port bound again at once must be free).
///
/// # Errors
///
/// The kernel's (`EINVAL` before 6.0); `ENOENT` (nothing to cancel) is
/// success.
pub(crate) fn sync_cancel(ring_fd: RawFd, user_data: u64) -> io::Result<()> {
    let reg = SyncCancelReg {
        addr: user_data,
        fd: -1,
        flags: 0,
        timeout: [-1, -1],
        opcode: 0,
        pad: [0; 7],
        pad2: [0; 3],
    };
    // SAFETY: `reg` is a valid `io_uring_sync_cancel_reg`, read by the
    // kernel during the call only; nr_args is 1; `ring_fd` is our ring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            ring_fd,
            REGISTER_SYNC_CANCEL,
            &reg as *const SyncCancelReg,
            1,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}
