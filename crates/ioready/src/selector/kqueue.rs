//! The kqueue backend (macOS, iOS, FreeBSD, OpenBSD, NetBSD, DragonFly).
//!
//! Shaped like the epoll backend: registrations live in the kernel, a wait is
//! one `kevent` call (`sys::kqueue`). Not compiled by this project's CI
//! (Linux only): kept small, and every choice is mio's or polling's
//! well-trodden one.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::dispatch::{Driver, Wait};
use crate::error::{already_registered, lock_unpoisoned, not_registered};
use crate::event::{Events, Interest, Token, Trigger};
use crate::sys::kqueue::{self as sys_kqueue, KEvent, UserOp};

impl Driver for Registry {
    type Waker = Waker;

    fn register(
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

    fn reregister(
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

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        if !self.fds().remove(&fd) {
            return Err(not_registered(fd));
        }
        self.apply(fd, Token(0), Interest::empty(), Trigger::Level)
    }

    fn waker(self: &Arc<Self>, token: Token) -> io::Result<Waker> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT_IDENT: AtomicUsize = AtomicUsize::new(1);
        let ident = NEXT_IDENT.fetch_add(1, Ordering::Relaxed);
        sys_kqueue::user_event(self.kq.as_fd(), ident, UserOp::Add, token.0)?;
        Ok(Waker {
            registry: self.clone(),
            ident,
        })
    }

    fn wake(w: &Waker) -> io::Result<()> {
        sys_kqueue::user_event(w.registry.kq.as_fd(), w.ident, UserOp::Trigger, 0)
    }

    /// The kqueue descriptor: readable (`kqueue(2)`: to select, poll and
    /// another kqueue) while events are pending.
    fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.kq.as_fd())
    }
}

impl Wait for Waiter {
    type Registry = Registry;

    fn open() -> io::Result<(Registry, Waiter)> {
        let registry = Registry {
            kq: sys_kqueue::new()?,
            fds: Mutex::new(HashSet::new()),
        };
        Ok((registry, Waiter::default()))
    }

    fn select(
        &mut self,
        r: &Registry,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        self.buf.clear();
        if self.buf.capacity() < events.capacity() {
            self.buf.reserve_exact(events.capacity());
        }
        sys_kqueue::wait_into(r.kq.as_fd(), &mut self.buf, timeout)?;
        for ev in &self.buf {
            let (token, flags) = sys_kqueue::token_and_bits(ev);
            if !events.push(Token(token), flags) {
                break;
            }
        }
        Ok(events.len())
    }
}

#[derive(Debug)]
pub(crate) struct Registry {
    kq: OwnedFd,
    /// Registered descriptors: kqueue itself accepts a second `EV_ADD` as a
    /// modification, but `register` must say `AlreadyExists` as on every
    /// other backend.
    fds: Mutex<HashSet<RawFd>>,
}

impl Registry {
    fn fds(&self) -> MutexGuard<'_, HashSet<RawFd>> {
        lock_unpoisoned(&self.fds)
    }

    /// Sets the read and write filters of `fd` to match `interest` (an
    /// empty interest deletes both).
    fn apply(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        sys_kqueue::set_filters(
            self.kq.as_fd(),
            fd,
            token.0,
            interest.intersects(Interest::READABLE | Interest::READ_CLOSED),
            interest.contains(Interest::WRITABLE),
            trigger,
        )
    }
}

/// The waiting side: a reused `kevent` buffer the size of the caller's
/// [`Events`].
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    buf: Vec<KEvent>,
}

/// The kqueue waker: an `EVFILT_USER` event, triggered by `wake`, cleared
/// on delivery. (`Unsupported` on OpenBSD and NetBSD, where rustix exposes
/// no `EVFILT_USER`: listed as missing in the README; the poll backend has a
/// waker there.)
#[derive(Debug)]
pub(crate) struct Waker {
    registry: Arc<Registry>,
    ident: usize,
}

impl Drop for Waker {
    fn drop(&mut self) {
        let _ = sys_kqueue::user_event(self.registry.kq.as_fd(), self.ident, UserOp::Delete, 0);
    }
}
