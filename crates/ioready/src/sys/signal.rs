//! Signals as readiness: one process-wide `sigaction` handler per signal,
//! and a lock-free list of owners that the handler walks.
//!
//! # Why a handler and a self-pipe, not `signalfd`
//!
//! `signalfd` only reports a signal that is *blocked* in every thread: a
//! thread spawned before the block (by a library, by the test harness) still
//! receives it and runs the default action (SIGTERM kills the process), and
//! the blocked mask is inherited by children across `exec`, so a child
//! started later would ignore SIGINT. A handler installed with `sigaction`
//! applies to every thread at once and is reset to the default by `exec`. It
//! only has to do async-signal-safe work: bump an atomic counter and
//! `write(2)` to a descriptor, as libuv, signal-hook and CPython do. The
//! same code runs on every Unix.
//!
//! `sigaction` itself comes from `libc`: rustix has it only for
//! implementations of libc (`rustix::runtime`), not for programs.
//!
//! # The owner list
//!
//! Each owner (one per [`crate::Signals`]) is a node in a singly linked list
//! that is only ever pushed to, at the head, and whose nodes are never freed:
//! a dropped owner's node is marked free and reused by the next owner, so the
//! list is as long as the most owners ever alive at once. The handler walks
//! it without a lock. A node's descriptor is published (stored) last and
//! unpublished first; an owner being dropped then waits until no handler is
//! running (`IN_HANDLER`) before its descriptor is closed, so a handler never
//! writes to a descriptor number that was closed and reused meanwhile (both
//! sides use `SeqCst`: either the handler sees the unpublished `-1`, or the
//! dropping thread sees the handler running).
//!
//! Installing and restoring dispositions, and claiming and releasing nodes,
//! happen in ordinary code under one mutex, never taken by the handler.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::ptr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::Mutex;

use super::notify::Notifier;
use crate::error;

/// The highest signal number that can be asked for (`_NSIG - 1` on Linux,
/// where real-time signals go up to 64; 128 covers FreeBSD's).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const MAX_SIGNAL: usize = 64;
/// The highest signal number that can be asked for.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const MAX_SIGNAL: usize = 128;

const WORDS: usize = MAX_SIGNAL.div_ceil(64) + 1;

/// Signals that cannot be caught (`SIGKILL`, `SIGSTOP`) or whose handler
/// must not simply return (the synchronous faults: returning re-runs the
/// faulting instruction forever).
const FORBIDDEN: [libc::c_int; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
];

/// Signal numbers of this platform, for the front's `Signal` constants.
pub(crate) mod numbers {
    pub(crate) const HUP: i32 = libc::SIGHUP;
    pub(crate) const INT: i32 = libc::SIGINT;
    pub(crate) const QUIT: i32 = libc::SIGQUIT;
    pub(crate) const USR1: i32 = libc::SIGUSR1;
    pub(crate) const USR2: i32 = libc::SIGUSR2;
    pub(crate) const PIPE: i32 = libc::SIGPIPE;
    pub(crate) const ALRM: i32 = libc::SIGALRM;
    pub(crate) const TERM: i32 = libc::SIGTERM;
    pub(crate) const CHLD: i32 = libc::SIGCHLD;
    pub(crate) const CONT: i32 = libc::SIGCONT;
    pub(crate) const TSTP: i32 = libc::SIGTSTP;
    pub(crate) const WINCH: i32 = libc::SIGWINCH;
    pub(crate) const KILL: i32 = libc::SIGKILL;
}

/// `SIGRTMIN..=SIGRTMAX` as the C library leaves them to programs (glibc
/// keeps the first two for its threads), or `None` where the platform has
/// no real-time signals.
pub(crate) fn realtime_range() -> Option<(i32, i32)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        Some((libc::SIGRTMIN(), libc::SIGRTMAX()))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// Checks that `signal` can be owned.
///
/// # Errors
///
/// `InvalidInput` naming the signal otherwise.
pub(crate) fn check(signal: i32) -> io::Result<()> {
    if signal <= 0 || signal as usize > MAX_SIGNAL {
        return Err(error::invalid_input(&format!(
            "signal: {signal} is not a signal number (1..={MAX_SIGNAL})"
        )));
    }
    if FORBIDDEN.contains(&signal) {
        return Err(error::invalid_input(&format!(
            "signal: {signal} cannot be handled (SIGKILL and SIGSTOP cannot be caught; \
             SIGSEGV, SIGBUS, SIGILL and SIGFPE are faults)"
        )));
    }
    Ok(())
}

/// One owner's slot in the list the handler walks.
struct Node {
    /// The descriptor the handler writes to, or -1 while unpublished.
    fd: AtomicI32,
    /// The signals this owner asked for (bit `n` for signal `n`).
    wanted: [AtomicU64; WORDS],
    /// Deliveries per signal since the owner last took them.
    counts: [AtomicU32; MAX_SIGNAL + 1],
    /// Claimed by an owner (changed only under `STATE`).
    in_use: AtomicBool,
    /// The next node; fixed before the node is published.
    next: *const Node,
}

impl Node {
    fn wants(&self, signal: usize) -> bool {
        self.wanted[signal / 64].load(SeqCst) & (1 << (signal % 64)) != 0
    }
}

/// The head of the owner list. Nodes are leaked on purpose (see the module
/// docs): the handler may be reading one at any time.
static HEAD: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());

/// How many handlers are running right now, in any thread.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// A signal whose disposition is ours: what it was before, and how many
/// owners ask for it.
struct Installed {
    signal: libc::c_int,
    previous: libc::sigaction,
    owners: usize,
}

// SAFETY: `libc::sigaction` holds plain integers (handler addresses, flags,
// a mask); moving it between threads is what sigaction(2) itself allows.
unsafe impl Send for Installed {}

/// Dispositions we installed, and the lock that orders every change to them
/// and to node ownership.
static STATE: Mutex<Vec<Installed>> = Mutex::new(Vec::new());

fn state() -> std::sync::MutexGuard<'static, Vec<Installed>> {
    // Every change is completed before the guard is dropped or is a single
    // push/remove: a poisoned lock still holds a consistent list.
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The handler: for every owner that wants `signal`, count it and make the
/// owner's descriptor readable. Async-signal-safe: atomics, `write(2)`, and
/// `errno` saved and restored.
extern "C" fn handler(signal: libc::c_int) {
    let errno = errno::save();
    IN_HANDLER.fetch_add(1, SeqCst);
    let sig = signal as usize;
    if sig > 0 && sig <= MAX_SIGNAL {
        let mut node = HEAD.load(Acquire) as *const Node;
        while !node.is_null() {
            // SAFETY: nodes are never freed (module docs), and `next` was
            // written before the node was published with `Release`.
            let owner = unsafe { &*node };
            if owner.wants(sig) {
                let fd = owner.fd.load(SeqCst);
                if fd >= 0 {
                    // Counted before the write, so that the owner, woken by
                    // the write, finds the count.
                    owner.counts[sig].fetch_add(1, SeqCst);
                    notify_raw(fd);
                }
            }
            node = owner.next;
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
    errno::restore(errno);
}

/// Makes the owner's notifier readable: eight bytes to an eventfd, one to a
/// pipe. A full one is readable already, so the error is ignored.
fn notify_raw(fd: RawFd) {
    // SAFETY: `fd` was published by an owner that keeps it open until no
    // handler runs (module docs).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    // The notifier's eventfd takes a native-endian u64 (any non-zero value
    // makes it readable); its pipe takes any byte.
    const ONE: [u8; 8] = 1u64.to_ne_bytes();
    let bytes: &[u8] = if cfg!(ioready_epoll) { &ONE } else { &ONE[..1] };
    let _ = rustix::io::write(fd, bytes);
}

/// `errno`, saved and restored around the handler, so the code it
/// interrupted does not see ours.
mod errno {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn location() -> *mut libc::c_int {
        // SAFETY: returns the calling thread's errno address; no arguments.
        unsafe { libc::__errno_location() }
    }
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos",
        target_os = "visionos",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    fn location() -> *mut libc::c_int {
        // SAFETY: as above.
        unsafe { libc::__error() }
    }
    #[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
    fn location() -> *mut libc::c_int {
        // SAFETY: as above.
        unsafe { libc::__errno() }
    }

    pub(super) fn save() -> libc::c_int {
        // SAFETY: the thread's own errno, always valid to read.
        unsafe { *location() }
    }

    pub(super) fn restore(value: libc::c_int) {
        // SAFETY: the thread's own errno, always valid to write.
        unsafe { *location() = value }
    }
}

fn current_action(signal: libc::c_int) -> io::Result<libc::sigaction> {
    // SAFETY: a zeroed sigaction is a valid value to be overwritten; a null
    // new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, ptr::null(), &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(old)
    }
}

fn is_ours(action: &libc::sigaction) -> bool {
    action.sa_sigaction == handler as extern "C" fn(libc::c_int) as libc::sighandler_t
}

/// Installs the handler for `signal`; returns the disposition it replaced.
fn install(signal: libc::c_int) -> io::Result<libc::sigaction> {
    // SAFETY: the new action is fully initialised (zeroed, then handler,
    // flags and an empty mask); the handler is async-signal-safe.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SA_RESTART: other threads' blocking reads and writes are resumed,
        // not failed with EINTR, because of a signal they never asked for.
        // (The selector's own wait sees EINTR either way and resumes.)
        new.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, &new, &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(old)
    }
}

/// Puts `previous` back, unless someone replaced our handler meanwhile (then
/// theirs stays).
fn restore(signal: libc::c_int, previous: &libc::sigaction) {
    if let Ok(now) = current_action(signal) {
        if is_ours(&now) {
            // SAFETY: `previous` is what sigaction(2) gave us for this signal.
            unsafe { libc::sigaction(signal, previous, ptr::null_mut()) };
        }
    }
}

/// One owner of a set of signals: a claimed node and the notifier it
/// publishes. Dropping it restores the dispositions it was the last owner
/// of, then unpublishes the node, waits out running handlers and closes the
/// notifier.
pub(crate) struct Owner {
    node: &'static Node,
    notifier: Notifier,
    signals: Vec<libc::c_int>,
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("signals", &self.signals)
            .field("fd", &self.notifier.as_fd().as_raw_fd())
            .finish()
    }
}

impl Owner {
    /// Takes `signals` (checked, deduplicated by the caller): every delivery
    /// from now on is counted for this owner and makes [`Owner::as_fd`]
    /// readable.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` for the notifier; `sigaction`'s `EINVAL` (for
    /// example the real-time signals glibc keeps for itself). On error
    /// nothing is left installed.
    pub(crate) fn new(signals: &[libc::c_int]) -> io::Result<Owner> {
        let notifier = Notifier::new()?;
        let mut installed = state();
        let node = claim_node();
        for &s in signals {
            node.wanted[s as usize / 64].fetch_or(1 << (s as usize % 64), SeqCst);
        }
        // Published before the handlers are installed: no delivery after the
        // installation can miss this owner.
        node.fd.store(notifier.raw_write_fd(), SeqCst);
        let mut owner = Owner {
            node,
            notifier,
            signals: Vec::with_capacity(signals.len()),
        };
        for &s in signals {
            if let Some(entry) = installed.iter_mut().find(|i| i.signal == s) {
                entry.owners += 1;
            } else {
                match install(s) {
                    Ok(previous) => installed.push(Installed {
                        signal: s,
                        previous,
                        owners: 1,
                    }),
                    Err(e) => {
                        owner.release(&mut installed);
                        // `owner`'s Drop sees an empty list and a released
                        // node: nothing more to undo.
                        return Err(e);
                    }
                }
            }
            owner.signals.push(s);
        }
        drop(installed);
        Ok(owner)
    }

    /// The descriptor that becomes readable when a signal arrives.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.notifier.as_fd()
    }

    /// Takes the deliveries counted since the last call: `counts[n]` for
    /// signal `n`. Drains the notifier first, so a signal arriving during
    /// the call is either counted here or leaves the notifier readable.
    pub(crate) fn take(&self, counts: &mut [u32; MAX_SIGNAL + 1]) {
        self.notifier.drain();
        for &s in &self.signals {
            counts[s as usize] = self.node.counts[s as usize].swap(0, SeqCst);
        }
    }

    /// Restores what this owner was last of, and frees its node. Runs with
    /// the state lock held.
    fn release(&mut self, installed: &mut Vec<Installed>) {
        for &s in &self.signals {
            if let Some(i) = installed.iter().position(|e| e.signal == s) {
                installed[i].owners -= 1;
                if installed[i].owners == 0 {
                    let entry = installed.swap_remove(i);
                    restore(s, &entry.previous);
                }
            }
        }
        self.signals.clear();
        // Unpublish, then wait until no handler can still hold the number.
        self.node.fd.store(-1, SeqCst);
        for w in &self.node.wanted {
            w.store(0, SeqCst);
        }
        while IN_HANDLER.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        for c in &self.node.counts {
            c.store(0, Relaxed);
        }
        self.node.in_use.store(false, Release);
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if self.node.in_use.load(Acquire) {
            let mut installed = state();
            self.release(&mut installed);
        }
        // The notifier closes after this, once no handler can write to it.
    }
}

/// A free node, or a new one pushed at the head. Called with the state lock
/// held, so no two owners claim the same node.
fn claim_node() -> &'static Node {
    let mut p = HEAD.load(Acquire) as *const Node;
    while !p.is_null() {
        // SAFETY: nodes are never freed.
        let node = unsafe { &*p };
        if !node.in_use.load(Acquire) {
            node.in_use.store(true, Release);
            return node;
        }
        p = node.next;
    }
    let node: &'static Node = Box::leak(Box::new(Node {
        fd: AtomicI32::new(-1),
        wanted: std::array::from_fn(|_| AtomicU64::new(0)),
        counts: std::array::from_fn(|_| AtomicU32::new(0)),
        in_use: AtomicBool::new(true),
        next: HEAD.load(Acquire),
    }));
    // Only pushed under the lock, so the head cannot have changed.
    HEAD.store(node as *const Node as *mut Node, Release);
    node
}

// SAFETY: the `next` pointer is written once before publication and points
// to a leaked, never-freed node; every other field is atomic.
unsafe impl Sync for Node {}
// SAFETY: as above.
unsafe impl Send for Node {}
