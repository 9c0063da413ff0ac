//! `kqueue(2)` (macOS and the BSDs): create a queue, set the read and write
//! filters of a descriptor, wait into a buffer of `kevent`s and read them
//! as event bits, and the `EVFILT_USER` event behind the waker. Not
//! compiled by this project's CI (Linux only): kept small, and every choice
//! is mio's or polling's well-trodden one.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::event::kqueue::{self, EventFilter, EventFlags};

use super::event::bits;
use crate::event::Trigger;
use crate::timeout;

/// The kernel's `struct kevent`.
pub(crate) type KEvent = kqueue::Event;

/// A new kqueue, close-on-exec. (Not inherited across fork by definition;
/// close-on-exec made explicit, since not every BSD sets it for kqueue().)
pub(crate) fn new() -> io::Result<OwnedFd> {
    let kq = kqueue::kqueue()?;
    rustix::io::fcntl_setfd(&kq, rustix::io::FdFlags::CLOEXEC)?;
    Ok(kq)
}

fn mode(trigger: Trigger) -> EventFlags {
    match trigger {
        Trigger::Level => EventFlags::empty(),
        Trigger::Edge => EventFlags::CLEAR,
        // Removed after one delivery; the `EV_ADD` of reregister adds it back.
        Trigger::Oneshot => EventFlags::ONESHOT,
    }
}

fn udata(token: usize) -> *mut std::ffi::c_void {
    token as *mut std::ffi::c_void
}

/// Adds (with `token` and `trigger`) or deletes the read and write filters
/// of `fd`, with `EV_RECEIPT`, so each change reports its own error.
/// Deleting a filter that is not there is not an error.
pub(crate) fn set_filters(
    kq: BorrowedFd<'_>,
    fd: RawFd,
    token: usize,
    read: bool,
    write: bool,
    trigger: Trigger,
) -> io::Result<()> {
    let flag = |wanted: bool| {
        if wanted {
            EventFlags::ADD | EventFlags::RECEIPT | mode(trigger)
        } else {
            EventFlags::DELETE | EventFlags::RECEIPT
        }
    };
    let changes = [
        KEvent::new(EventFilter::Read(fd), flag(read), udata(token)),
        KEvent::new(EventFilter::Write(fd), flag(write), udata(token)),
    ];
    let mut receipts = Vec::with_capacity(changes.len());
    // SAFETY: the change list holds only read/write filters on a number
    // the caller registered; kevent only looks it up (see
    // `borrow_number`), and the receipts go to our own buffer.
    unsafe {
        kqueue::kevent_timespec(
            kq,
            &changes,
            rustix::buffer::spare_capacity(&mut receipts),
            None,
        )?
    };
    for r in &receipts {
        let errno = r.data();
        // ENOENT: deleting a filter that was not there. EPIPE: a pipe
        // whose reader is gone (mio ignores it the same way).
        if r.flags().contains(EventFlags::ERROR)
            && errno != 0
            && errno != rustix::io::Errno::NOENT.raw_os_error() as i64
            && errno != rustix::io::Errno::PIPE.raw_os_error() as i64
        {
            return Err(io::Error::from_raw_os_error(errno as i32));
        }
    }
    Ok(())
}

/// One wait into the spare capacity of `buf`. `EINTR` is `Interrupted`.
pub(crate) fn wait_into(
    kq: BorrowedFd<'_>,
    buf: &mut Vec<KEvent>,
    remaining: Option<Duration>,
) -> io::Result<usize> {
    let ts = timeout::to_timespec(remaining);
    // SAFETY: an empty change list; the event list is the caller's buffer.
    let n = unsafe {
        kqueue::kevent_timespec(kq, &[], rustix::buffer::spare_capacity(buf), ts.as_ref())?
    };
    Ok(n)
}

/// The token and the event bits (Linux numbering) of one `kevent`.
pub(crate) fn token_and_bits(ev: &KEvent) -> (usize, u32) {
    let mut flags = match ev.filter() {
        EventFilter::Read(_) => bits::IN,
        EventFilter::Write(_) => bits::OUT,
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "dragonfly"
        ))]
        EventFilter::User { .. } => bits::IN,
        _ => 0,
    };
    if ev.flags().contains(EventFlags::EOF) {
        // The peer hung up (read filter: its write side is shut).
        flags |= if flags & bits::IN != 0 {
            bits::HUP | bits::RDHUP
        } else {
            bits::HUP
        };
    }
    if ev.flags().contains(EventFlags::ERROR) {
        flags |= bits::ERR;
    }
    (ev.udata() as usize, flags)
}

/// What to do with a user event.
#[derive(Copy, Clone, Debug)]
pub(crate) enum UserOp {
    /// Add it, cleared on delivery (`EV_CLEAR`, the detail polling#265 got
    /// wrong).
    Add,
    /// Trigger it (`NOTE_TRIGGER`).
    Trigger,
    /// Delete it.
    Delete,
}

/// Adds, triggers or deletes the `EVFILT_USER` event `ident`, which reports
/// `token`. Only where rustix exposes `EVFILT_USER`.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
pub(crate) fn user_event(
    kq: BorrowedFd<'_>,
    ident: usize,
    op: UserOp,
    token: usize,
) -> io::Result<()> {
    let (flags, user) = match op {
        UserOp::Add => (
            EventFlags::ADD | EventFlags::CLEAR,
            kqueue::UserFlags::empty(),
        ),
        UserOp::Trigger => (EventFlags::empty(), kqueue::UserFlags::TRIGGER),
        UserOp::Delete => (EventFlags::DELETE, kqueue::UserFlags::empty()),
    };
    let ev = KEvent::new(
        EventFilter::User {
            ident: ident as _,
            flags: user,
            user_flags: kqueue::UserDefinedFlags::new(0),
        },
        flags,
        udata(token),
    );
    // SAFETY: a user event carries no descriptor.
    unsafe { kqueue::kevent_timespec(kq, &[ev], &mut [], None)? };
    Ok(())
}

/// OpenBSD and NetBSD: rustix exposes no `EVFILT_USER` there.
#[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
pub(crate) fn user_event(
    _kq: BorrowedFd<'_>,
    _ident: usize,
    _op: UserOp,
    _token: usize,
) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Waker: not yet implemented on OpenBSD and NetBSD (no EVFILT_USER); use the poll backend",
    ))
}
