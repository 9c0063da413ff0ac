//! [`Ring`]: an io_uring instance set up with probing, entered once per
//! loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use io_uring::{opcode, squeue, CompletionQueue, IoUring, Probe, SubmissionQueue};
use io_uring::{Parameters, Submitter};

use super::enter::{self, thread};
use super::refusal;

/// Something a completion loop may need from the kernel, beyond the ring
/// itself. See [`Features::has`] and [`RingBuilder::require`].
///
/// The kernel has a probe for opcodes (`IORING_REGISTER_PROBE`) but not for
/// the flags that make requests multishot; those are inferred from an opcode
/// that arrived in the same Linux release or later, which is what "probe,
/// never assume" can mean for them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// An opcode (`io_uring::opcode::*::CODE`), read from the probe.
    Opcode(u8),
    /// `POLL_ADD` with `IORING_POLL_ADD_MULTI` (Linux 5.13; inferred from
    /// `MKDIRAT`, 5.15).
    PollMultishot,
    /// `IORING_OP_ACCEPT` with `IORING_ACCEPT_MULTISHOT` (5.19; inferred from
    /// `SOCKET`, 5.19).
    AcceptMultishot,
    /// Provided buffer rings, `IORING_REGISTER_PBUF_RING` (5.19; inferred
    /// from `SOCKET`, 5.19).
    BufRing,
    /// `IORING_OP_RECV` with `IORING_RECV_MULTISHOT` (6.0; inferred from
    /// `SEND_ZC`, 6.0).
    RecvMultishot,
    /// `ASYNC_CANCEL` by descriptor, `IORING_ASYNC_CANCEL_FD` (5.19; inferred
    /// from `SOCKET`).
    CancelByFd,
    /// Send and receive bundles, `IORING_FEAT_RECVSEND_BUNDLE` (6.10).
    Bundles,
}

impl Capability {
    /// What it is, with the Linux release that brought it, for messages.
    pub fn describe(self) -> String {
        match self {
            Capability::Opcode(code) => format!("io_uring opcode {code}"),
            Capability::PollMultishot => "multishot POLL_ADD (Linux 5.13)".into(),
            Capability::AcceptMultishot => "multishot ACCEPT (Linux 5.19)".into(),
            Capability::BufRing => "provided buffer rings (Linux 5.19)".into(),
            Capability::RecvMultishot => "multishot RECV (Linux 6.0)".into(),
            Capability::CancelByFd => "ASYNC_CANCEL by descriptor (Linux 5.19)".into(),
            Capability::Bundles => "send/receive bundles (Linux 6.10)".into(),
        }
    }
}

/// What the kernel granted when the ring was set up, and what it can do.
#[derive(Debug)]
#[non_exhaustive]
pub struct Features {
    /// `IORING_SETUP_SINGLE_ISSUER` is in force: only one thread (the first
    /// to submit) may submit on the ring.
    pub single_issuer: bool,
    /// `IORING_SETUP_DEFER_TASKRUN` is in force (Linux 6.1): completions are
    /// processed only inside `io_uring_enter` with `GETEVENTS`, which
    /// [`Ring::submit_and_wait`] always passes.
    pub defer_taskrun: bool,
    /// `IORING_SETUP_SUBMIT_ALL` is in force (5.18): an SQE that fails does
    /// not stop the submission of those after it.
    pub submit_all: bool,
    /// `IORING_FEAT_NODROP`: completions are never dropped on CQ overflow
    /// (they wait in the kernel; the next enter flushes them).
    pub nodrop: bool,
    /// `IORING_FEAT_FAST_POLL`: requests on sockets that are not ready poll
    /// internally instead of blocking a worker thread.
    pub fast_poll: bool,
    /// The ring descriptor can be registered (`IORING_REGISTER_RING_FDS`,
    /// 5.18; inferred from `MSG_RING`), so that each enter skips the
    /// descriptor lookup. [`Ring::ring_fd_registered`] says whether it was.
    pub ring_fd_registration: bool,
    /// Submission queue entries.
    pub sq_entries: u32,
    /// Completion queue entries.
    pub cq_entries: u32,
    probe: Probe,
    bundles: bool,
}

impl Features {
    /// True if the kernel supports `opcode` (an `io_uring::opcode::*::CODE`).
    pub fn supports_opcode(&self, opcode: u8) -> bool {
        self.probe.is_supported(opcode)
    }

    /// True if the kernel has `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        let op = |code| self.probe.is_supported(code);
        match cap {
            Capability::Opcode(code) => op(code),
            Capability::PollMultishot => op(opcode::PollAdd::CODE) && op(opcode::MkDirAt::CODE),
            Capability::AcceptMultishot => {
                op(opcode::AcceptMulti::CODE) && op(opcode::Socket::CODE)
            }
            Capability::BufRing | Capability::CancelByFd => op(opcode::Socket::CODE),
            Capability::RecvMultishot => op(opcode::RecvMulti::CODE) && op(opcode::SendZc::CODE),
            Capability::Bundles => self.bundles,
        }
    }

    /// The kernel's opcode probe, as read at setup.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }
}

/// Options for [`Ring`]: sizes, the setup flags to try, what is required.
///
/// By default the ring tries `SINGLE_ISSUER` + `DEFER_TASKRUN` (the fastest
/// setup for a ring entered by one thread), falls back to `SINGLE_ISSUER`
/// with `COOP_TASKRUN` and then to a plain ring when the kernel refuses them
/// with `EINVAL`, and registers its descriptor on first use.
#[derive(Clone, Debug)]
pub struct RingBuilder {
    entries: u32,
    cq_entries: u32,
    single_issuer: bool,
    defer_taskrun: bool,
    register_ring_fd: bool,
    setup_here: bool,
    required: Vec<Capability>,
}

impl Default for RingBuilder {
    fn default() -> Self {
        RingBuilder {
            entries: 256,
            cq_entries: 0,
            single_issuer: true,
            defer_taskrun: true,
            register_ring_fd: true,
            setup_here: false,
            required: Vec::new(),
        }
    }
}

/// The kernel's limit on submission queue entries.
const MAX_ENTRIES: u32 = 32_768;

impl RingBuilder {
    /// Submission queue entries (a power of two is used: the kernel rounds
    /// up). Default 256.
    pub fn entries(&mut self, entries: u32) -> &mut Self {
        self.entries = entries;
        self
    }

    /// Completion queue entries (`IORING_SETUP_CQSIZE`); default twice the
    /// submission queue. Multishot requests post many completions per
    /// submission: size this for the completions one loop may have to reap.
    pub fn cq_entries(&mut self, entries: u32) -> &mut Self {
        self.cq_entries = entries;
        self
    }

    /// Try `IORING_SETUP_SINGLE_ISSUER` (default true). Then only the thread
    /// that first submits may submit; another thread's submit fails with a
    /// clear error. Turn it off for a ring submitted to from several threads
    /// (one at a time: `Ring` is `Send`, not `Sync`). `false` also turns off
    /// `DEFER_TASKRUN`, which needs it.
    pub fn single_issuer(&mut self, on: bool) -> &mut Self {
        self.single_issuer = on;
        self
    }

    /// Try `IORING_SETUP_DEFER_TASKRUN` (default true; needs single issuer).
    pub fn defer_taskrun(&mut self, on: bool) -> &mut Self {
        self.defer_taskrun = on;
        self
    }

    /// Register the ring descriptor on the first submitting thread (default
    /// true), so that each enter skips a descriptor lookup.
    ///
    /// The registration is an entry in that thread's table and holds a
    /// reference to the ring: dropping the [`Ring`] on that thread gives it
    /// back; dropping it on another leaves the ring (and every file its
    /// requests hold) alive until the registering thread exits. Turn it off
    /// for a ring that may be dropped elsewhere.
    pub fn register_ring_fd(&mut self, on: bool) -> &mut Self {
        self.register_ring_fd = on;
        self
    }

    /// Make the `io_uring_setup` call on the calling thread (default false:
    /// on a short-lived helper thread).
    ///
    /// The kernel records every thread that set up or submitted to a ring,
    /// and when the ring is closed it sends each of them still alive a task
    /// work notification (`TWA_SIGNAL`) to unlink it. That notification ends
    /// a timed blocking call in progress on the thread (a `recv` with
    /// `SO_RCVTIMEO`, say) with `EINTR`. The thread that builds a ring is
    /// often not the one that runs it (a server built on the main thread,
    /// run on another), so by default the setup is made on a helper thread
    /// that exits at once, and only the threads that submit are recorded.
    /// The helper costs a thread start (tens of microseconds) per ring.
    pub fn setup_on_this_thread(&mut self, on: bool) -> &mut Self {
        self.setup_here = on;
        self
    }

    /// Fail [`build`](Self::build) unless the kernel has `cap`.
    pub fn require(&mut self, cap: Capability) -> &mut Self {
        self.required.push(cap);
        self
    }

    /// Sets the ring up.
    ///
    /// # Errors
    ///
    /// * `InvalidInput` for zero or more than 32,768 entries, or a completion
    ///   queue smaller than the submission queue.
    /// * `PermissionDenied`, naming the reason, when io_uring is refused: a
    ///   seccomp filter (Docker's default profile) or
    ///   `kernel.io_uring_disabled` (read from `/proc/sys/kernel`).
    /// * `Unsupported`, naming what is missing: no io_uring in the kernel
    ///   (`ENOSYS`), no `IORING_FEAT_EXT_ARG` (5.11), no opcode probe (5.6),
    ///   or a [`require`](Self::require)d capability.
    /// * `EMFILE`/`ENFILE`/`ENOMEM` as the kernel gives them.
    pub fn build(&self) -> io::Result<Ring> {
        if self.entries == 0 || self.entries > MAX_ENTRIES {
            return Err(crate::error::invalid_input(&format!(
                "entries: must be 1 to {MAX_ENTRIES}, got {}",
                self.entries
            )));
        }
        if self.cq_entries != 0 && self.cq_entries < self.entries {
            return Err(crate::error::invalid_input(&format!(
                "cq_entries: must be at least entries ({}), got {}",
                self.entries, self.cq_entries
            )));
        }
        let (ring, setup) = self.setup()?;
        let params = ring.params();
        if !params.is_feature_ext_arg() {
            return Err(refusal::missing(
                "IORING_FEAT_EXT_ARG (Linux 5.11), which carries the wait's timeout",
            ));
        }
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe).map_err(|e| {
            refusal::call_failed("the opcode probe IORING_REGISTER_PROBE (Linux 5.6)", e)
        })?;
        let features = Features {
            single_issuer: setup.single_issuer,
            defer_taskrun: setup.defer_taskrun,
            submit_all: setup.submit_all,
            nodrop: params.is_feature_nodrop(),
            fast_poll: params.is_feature_fast_poll(),
            ring_fd_registration: probe.is_supported(opcode::MsgRingData::CODE),
            sq_entries: params.sq_entries(),
            cq_entries: params.cq_entries(),
            bundles: params.is_feature_recvsend_bundle(),
            probe,
        };
        if let Some(cap) = self.required.iter().find(|c| !features.has(**c)) {
            return Err(refusal::missing(&cap.describe()));
        }
        let fd = ring.as_raw_fd();
        Ok(Ring {
            ring,
            features,
            fd,
            owner: 0,
            registered: -1,
            want_registered: self.register_ring_fd,
            disabled: setup.single_issuer,
            early_submits: 0,
        })
    }

    /// `io_uring_setup`, on this thread or a helper (see
    /// [`setup_on_this_thread`](Self::setup_on_this_thread)).
    fn setup(&self) -> io::Result<(IoUring, Setup)> {
        if self.setup_here {
            return self.setup_now();
        }
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("ioready-uring-setup".into())
                .spawn_scoped(scope, || self.setup_now())?
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("io_uring setup thread panicked")))
        })
    }

    /// `io_uring_setup`, trying the setup flags best first.
    fn setup_now(&self) -> io::Result<(IoUring, Setup)> {
        let si = self.single_issuer;
        let dt = si && self.defer_taskrun;
        let tries = [
            Setup::new(si, dt, true),
            Setup::new(si, false, true),
            Setup::new(false, false, false),
        ];
        let mut last = None;
        for (i, s) in tries.iter().enumerate() {
            if i > 0 && tries[..i].contains(s) {
                continue;
            }
            let mut b = IoUring::builder();
            b.setup_cqsize(if self.cq_entries != 0 {
                self.cq_entries
            } else {
                self.entries.saturating_mul(2)
            });
            if s.single_issuer {
                // Disabled until the first enter, which binds the ring to the
                // thread that makes it (`IORING_REGISTER_ENABLE_RINGS` sets
                // the single issuer): so a ring may be built on one thread
                // and run on another.
                b.setup_single_issuer().setup_r_disabled();
            }
            if s.defer_taskrun {
                b.setup_defer_taskrun();
            } else if s.single_issuer {
                b.setup_coop_taskrun();
            }
            if s.submit_all {
                b.setup_submit_all();
            }
            match b.build(self.entries) {
                Ok(ring) => return Ok((ring, *s)),
                // A flag this kernel does not know: try fewer.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
                Err(e) => return Err(refusal::setup_failed(e)),
            }
        }
        Err(refusal::setup_failed(last.unwrap_or_else(|| {
            io::Error::from_raw_os_error(libc::EINVAL)
        })))
    }
}

/// The setup flags one attempt asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Setup {
    single_issuer: bool,
    defer_taskrun: bool,
    submit_all: bool,
}

impl Setup {
    fn new(single_issuer: bool, defer_taskrun: bool, submit_all: bool) -> Self {
        Setup {
            single_issuer,
            defer_taskrun,
            submit_all,
        }
    }
}

/// An io_uring instance: submission and completion queues, the probed
/// [`Features`], and one [`submit_and_wait`](Self::submit_and_wait) that
/// submits and waits in a single `io_uring_enter`.
///
/// `Send`, not `Sync`: one thread at a time uses it. With
/// [`Features::single_issuer`], the first thread that submits is the only
/// one that ever may (the ring is bound to it then, not at setup).
///
/// ```
/// # #[cfg(all(feature = "uring", target_os = "linux"))] {
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use ioready::uring::{opcode, types, Ring};
///
/// let mut ring = Ring::new(8)?;
/// let (a, mut b) = UnixStream::pair()?;
/// b.write_all(b"hi")?;
/// let mut buf = [0u8; 16];
/// let recv = opcode::Recv::new(types::Fd(a.as_raw_fd()), buf.as_mut_ptr(), 16)
///     .build()
///     .user_data(7);
/// // SAFETY: `buf` and `a` outlive the request: it completes before they drop.
/// unsafe { ring.push(&recv)? };
/// ring.submit_and_wait(1, Some(Duration::from_secs(5)))?;
/// let cqe = ring.completion().next().expect("a completion");
/// assert_eq!((cqe.user_data(), cqe.result()), (7, 2));
/// assert_eq!(&buf[..2], b"hi");
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Ring {
    ring: IoUring,
    features: Features,
    /// The ring's descriptor.
    fd: RawFd,
    /// The thread (see `enter::thread`) the ring is bound to; 0 before the
    /// first enter.
    owner: u64,
    /// The ring descriptor's index in the owner thread's registered table,
    /// or -1.
    registered: i32,
    want_registered: bool,
    /// Created with `R_DISABLED` (single issuer), not yet enabled.
    disabled: bool,
    early_submits: u64,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("fd", &self.fd)
            .field("features", &self.features)
            .field("ring_fd_registered", &(self.registered >= 0))
            .finish()
    }
}

/// The `IORING_REGISTER_*` codes used with a raw descriptor.
const REGISTER_RING_FDS: u32 = 20;
const UNREGISTER_RING_FDS: u32 = 21;

/// `struct io_uring_rsrc_update`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

impl Ring {
    /// A ring with `entries` submission entries and the default options
    /// ([`RingBuilder`]).
    ///
    /// # Errors
    ///
    /// As [`RingBuilder::build`].
    pub fn new(entries: u32) -> io::Result<Ring> {
        Ring::builder().entries(entries).build()
    }

    /// Options for a ring.
    pub fn builder() -> RingBuilder {
        RingBuilder::default()
    }

    /// What the kernel granted and supports.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The parameters the kernel filled in at setup.
    pub fn params(&self) -> &Parameters {
        self.ring.params()
    }

    /// How many times [`push`](Self::push) found the queue full and submitted
    /// first: then completions a loop expects from its next wait may be in.
    #[inline]
    pub fn early_submits(&self) -> u64 {
        self.early_submits
    }

    /// True once the ring descriptor is registered (after the first enter,
    /// where the kernel allows it): enters then skip the descriptor lookup.
    pub fn ring_fd_registered(&self) -> bool {
        self.registered >= 0
    }

    /// Queues one request. When the submission queue is full, the queued
    /// ones are submitted first (one `io_uring_enter`, no wait).
    ///
    /// # Safety
    ///
    /// The request's buffers and descriptors must stay valid until its
    /// completion arrives (for a multishot request: its last completion, the
    /// one without `IORING_CQE_F_MORE`), or until it is cancelled and the
    /// cancellation has completed. This is io_uring's contract.
    ///
    /// # Errors
    ///
    /// The submit's errors (see [`submit_and_wait`](Self::submit_and_wait));
    /// `WouldBlock` if the kernel left the queue full.
    #[inline]
    pub unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: forwarded from our caller.
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        // SAFETY: forwarded from our caller.
        unsafe { self.push_after_submit(entry) }
    }

    /// [`push`](Self::push) when the queue is full: submit, then push.
    ///
    /// # Safety
    ///
    /// As [`push`](Self::push).
    #[cold]
    unsafe fn push_after_submit(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        self.early_submits += 1;
        self.submit_and_wait(0, None)?;
        // SAFETY: as above.
        unsafe { self.ring.submission().push(entry) }.map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                "io_uring submission queue is full and the kernel took nothing from it",
            )
        })
    }

    /// Submits every queued request and waits until at least `want`
    /// completions are in the completion queue, or `timeout` passes, in one
    /// `io_uring_enter`.
    ///
    /// `want` 0 submits without waiting (and, with `DEFER_TASKRUN`, lets the
    /// kernel post the completions that are done), as does a zero timeout
    /// (no timer is armed: the kernel's timer slack would make a zero timer
    /// sleep tens of microseconds). The timeout is the enter
    /// call's own argument (`IORING_ENTER_EXT_ARG`), in nanoseconds, relative;
    /// `None` waits without one; a huge one is clamped (to a year) and returns
    /// early with nothing, as the other waits of this crate do before they
    /// resume.
    ///
    /// Returns how many requests the kernel consumed from the submission
    /// queue. A timeout is not an error: check the completion queue. Nor is a
    /// signal that arrives after requests were submitted (the kernel then
    /// reports the submission); one that arrives before gives `Interrupted`.
    ///
    /// # Errors
    ///
    /// * `Interrupted` (`EINTR`): a signal, nothing submitted; call again.
    /// * `EBUSY`: completions are waiting in the kernel's overflow list; reap
    ///   the completion queue, then call again.
    /// * With [`Features::single_issuer`], an error naming the cause when
    ///   called from another thread than the first that submitted.
    /// * `PermissionDenied` when the first enter (which enables a
    ///   single-issuer ring) is refused.
    /// * Other kernel errors, unchanged.
    #[inline]
    pub fn submit_and_wait(&mut self, want: u32, timeout: Option<Duration>) -> io::Result<usize> {
        let (fd, registered) = if self.owner == thread() {
            if self.registered >= 0 {
                (self.registered, true)
            } else {
                (self.fd, false)
            }
        } else {
            self.bind()?
        };
        let to_submit = self.ring.submission().len() as u32;
        // A zero timeout is a poll: no zero timer, which the kernel's timer
        // slack (50 us by default) turns into a sleep.
        let (want, timeout) = match timeout {
            Some(d) if d.is_zero() => (0, None),
            t => (want, t),
        };
        match enter::enter(fd, registered, to_submit, want, timeout) {
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(0),
            other => other,
        }
    }

    /// The first enter on a thread: enables a single-issuer ring (binding it
    /// to this thread) and registers its descriptor; or, on another thread
    /// than the owner, refuses (single issuer) or enters by descriptor.
    #[cold]
    fn bind(&mut self) -> io::Result<(i32, bool)> {
        let me = thread();
        if self.owner == 0 {
            if self.disabled {
                self.ring.submitter().register_enable_rings().map_err(|e| {
                    refusal::call_failed("enabling the ring (IORING_REGISTER_ENABLE_RINGS)", e)
                })?;
                self.disabled = false;
            }
            self.owner = me;
            if self.want_registered && self.features.ring_fd_registration {
                // An optimisation only: on failure, enter by descriptor.
                self.registered = self.register_ring_fd().unwrap_or(-1);
            }
            return Ok(if self.registered >= 0 {
                (self.registered, true)
            } else {
                (self.fd, false)
            });
        }
        if self.features.single_issuer {
            return Err(io::Error::other(
                "this io_uring ring is single-issuer (IORING_SETUP_SINGLE_ISSUER): only the \
                 thread that first submitted on it may submit (build it with \
                 RingBuilder::single_issuer(false) to move it between threads)",
            ));
        }
        // The registered index belongs to the owner's table: use the
        // descriptor here.
        Ok((self.fd, false))
    }

    /// Registers the ring descriptor in this thread's table; its index.
    fn register_ring_fd(&self) -> io::Result<i32> {
        let mut up = RsrcUpdate {
            offset: u32::MAX, // any free slot
            resv: 0,
            data: self.fd as u64,
        };
        // SAFETY: `up` is a valid `io_uring_rsrc_update` that the kernel reads
        // and writes (the slot it chose) during the call; nr_args is 1.
        unsafe {
            rustix::io_uring::io_uring_register(
                self.ring.as_fd(),
                raw_register_op(REGISTER_RING_FDS),
                (&mut up as *mut RsrcUpdate).cast(),
                1,
            )?;
        }
        Ok(up.offset as i32)
    }

    /// The submission queue, to push requests directly (see [`push`](Self::push)
    /// for the contract); pushed entries are published when it is dropped.
    #[inline]
    pub fn submission(&mut self) -> SubmissionQueue<'_> {
        self.ring.submission()
    }

    /// The completion queue: iterate it to reap completions (its head is
    /// published when it is dropped).
    #[inline]
    pub fn completion(&mut self) -> CompletionQueue<'_> {
        self.ring.completion()
    }

    /// Both queues at once.
    #[inline]
    pub fn queues(&mut self) -> (SubmissionQueue<'_>, CompletionQueue<'_>) {
        let (_, sq, cq) = self.ring.split();
        (sq, cq)
    }

    /// The `io-uring` crate's submitter, for registrations (files, buffers,
    /// eventfd, ...). Submit and wait with [`submit_and_wait`](Self::submit_and_wait)
    /// instead of the submitter's own calls, which know neither the
    /// registered descriptor nor the ring's thread binding.
    pub fn submitter(&self) -> Submitter<'_> {
        self.ring.submitter()
    }
}

/// An `IORING_REGISTER_*` code as rustix's type.
fn raw_register_op(code: u32) -> rustix::io_uring::IoringRegisterOp {
    match code {
        REGISTER_RING_FDS => rustix::io_uring::IoringRegisterOp::RegisterRingFds,
        _ => rustix::io_uring::IoringRegisterOp::UnregisterRingFds,
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The registered slot holds a reference to the ring: give it back,
        // on the owner thread (its table). On another thread it cannot be
        // reached; the kernel releases it when the owner thread exits.
        if self.registered >= 0 && self.owner == thread() {
            let up = RsrcUpdate {
                offset: self.registered as u32,
                resv: 0,
                data: 0,
            };
            // SAFETY: `up` is a valid `io_uring_rsrc_update` read by the
            // kernel during the call; nr_args is 1.
            let _ = unsafe {
                rustix::io_uring::io_uring_register(
                    self.ring.as_fd(),
                    raw_register_op(UNREGISTER_RING_FDS),
                    (&up as *const RsrcUpdate).cast(),
                    1,
                )
            };
        }
    }
}

impl AsFd for Ring {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

impl AsRawFd for Ring {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}
