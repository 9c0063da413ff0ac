//! The kqueue backend (macOS, iOS, FreeBSD, OpenBSD, NetBSD, DragonFly).
//!
//! Shaped like the epoll backend: registrations live in the kernel, a wait is
//! one `kevent` call. Not compiled by this project's CI (Linux only): kept
//! small, and every choice is mio's or polling's well-trodden one.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::event::kqueue::{self, Event as KEvent, EventFilter, EventFlags};

use crate::error::{already_registered, not_registered};
use crate::event::{bits, Events, Interest, Token, Trigger};
use crate::timeout;

#[derive(Debug)]
pub(crate) struct Registry {
    kq: OwnedFd,
    /// Registered descriptors: kqueue itself accepts a second `EV_ADD` as a
    /// modification, but `register` must say `AlreadyExists` as on every
    /// other backend.
    fds: Mutex<HashSet<RawFd>>,
}

fn mode(trigger: Trigger) -> EventFlags {
    match trigger {
        Trigger::Level => EventFlags::empty(),
        Trigger::Edge => EventFlags::CLEAR,
        // Removed after one delivery; the `EV_ADD` of reregister adds it back.
        Trigger::Oneshot => EventFlags::ONESHOT,
    }
}

fn udata(token: Token) -> *mut std::ffi::c_void {
    token.0 as *mut std::ffi::c_void
}

impl Registry {
    pub(super) fn new() -> io::Result<Self> {
        // Not inherited across fork by definition; close-on-exec made
        // explicit, since not every BSD sets it for kqueue().
        let kq = kqueue::kqueue()?;
        rustix::io::fcntl_setfd(&kq, rustix::io::FdFlags::CLOEXEC)?;
        Ok(Registry {
            kq,
            fds: Mutex::new(HashSet::new()),
        })
    }

    fn fds(&self) -> std::sync::MutexGuard<'_, HashSet<RawFd>> {
        self.fds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies read and write filter changes for `fd` with `EV_RECEIPT`, so
    /// each change reports its own error.
    fn apply(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
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
            KEvent::new(
                EventFilter::Read(fd),
                flag(interest.intersects(Interest::READABLE | Interest::READ_CLOSED)),
                udata(token),
            ),
            KEvent::new(
                EventFilter::Write(fd),
                flag(interest.contains(Interest::WRITABLE)),
                udata(token),
            ),
        ];
        let mut receipts = Vec::with_capacity(changes.len());
        // SAFETY: the change list holds only read/write filters on a number
        // the caller registered; kevent does no I/O through it.
        unsafe {
            kqueue::kevent_timespec(
                &self.kq,
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

    pub(super) fn register(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        let mut fds = self.fds();
        if fds.contains(&fd) {
            return Err(already_registered(fd));
        }
        self.apply(fd, token, interest, trigger)?;
        fds.insert(fd);
        Ok(())
    }

    pub(super) fn reregister(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        if !self.fds().contains(&fd) {
            return Err(not_registered(fd));
        }
        self.apply(fd, token, interest, trigger)
    }

    pub(super) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        if !self.fds().remove(&fd) {
            return Err(not_registered(fd));
        }
        self.apply(fd, Token(0), Interest::empty(), Trigger::Level)
    }
}

/// The waiting side: a reused `kevent` buffer the size of the caller's
/// [`Events`].
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    buf: Vec<KEvent>,
}

impl Waiter {
    pub(super) fn select(
        &mut self,
        registry: &Registry,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        self.buf.clear();
        if self.buf.capacity() < events.capacity() {
            self.buf.reserve_exact(events.capacity());
        }
        let ts = timeout::to_timespec(remaining);
        // SAFETY: an empty change list; the event list is our own buffer.
        unsafe {
            kqueue::kevent_timespec(
                &registry.kq,
                &[],
                rustix::buffer::spare_capacity(&mut self.buf),
                ts.as_ref(),
            )?
        };
        for ev in &self.buf {
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
            if !events.push(Token(ev.udata() as usize), flags) {
                break;
            }
        }
        Ok(events.len())
    }
}

/// The kqueue waker: an `EVFILT_USER` event, triggered by `wake`, cleared
/// on delivery (`EV_CLEAR`, the detail polling#265 got wrong).
#[derive(Debug)]
pub(crate) struct Waker {
    registry: Arc<Registry>,
    ident: usize,
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
impl Waker {
    pub(super) fn new(registry: &Arc<Registry>, token: Token) -> io::Result<Self> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT_IDENT: AtomicUsize = AtomicUsize::new(1);
        let ident = NEXT_IDENT.fetch_add(1, Ordering::Relaxed);
        let waker = Waker {
            registry: registry.clone(),
            ident,
        };
        waker.change(
            EventFlags::ADD | EventFlags::CLEAR,
            kqueue::UserFlags::empty(),
            token,
        )?;
        Ok(waker)
    }

    fn change(&self, flags: EventFlags, user: kqueue::UserFlags, token: Token) -> io::Result<()> {
        let ev = KEvent::new(
            EventFilter::User {
                ident: self.ident as _,
                flags: user,
                user_flags: kqueue::UserDefinedFlags::new(0),
            },
            flags,
            udata(token),
        );
        // SAFETY: a user event carries no descriptor.
        unsafe { kqueue::kevent_timespec(&self.registry.kq, &[ev], &mut [], None)? };
        Ok(())
    }

    pub(super) fn wake(&self) -> io::Result<()> {
        self.change(EventFlags::empty(), kqueue::UserFlags::TRIGGER, Token(0))
    }
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
impl Drop for Waker {
    fn drop(&mut self) {
        let _ = self.change(EventFlags::DELETE, kqueue::UserFlags::empty(), Token(0));
    }
}

// OpenBSD and NetBSD: rustix exposes no EVFILT_USER there. Listed as
// missing in the README; the poll backend has a Waker on these systems.
#[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
impl Waker {
    pub(super) fn new(_registry: &Arc<Registry>, _token: Token) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Waker: not yet implemented on OpenBSD and NetBSD (no EVFILT_USER); use the poll backend",
        ))
    }

    pub(super) fn wake(&self) -> io::Result<()> {
        let _ = (&self.registry, self.ident);
        Ok(())
    }
}
