//! The epoll backend: registrations live in the kernel; a wait is one
//! `epoll_wait` (or `epoll_pwait2`) straight into the caller's [`Events`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::dispatch::{Driver, Wait};
use super::own::OwnFds;
use crate::error::{already_registered, lock_unpoisoned, not_registered};
use crate::event::{Events, Interest, Token, Trigger};
use crate::sys::epoll::{self as sys_epoll, wait_into};
use crate::sys::event::bits;
use crate::sys::notify::Notifier;
use crate::sys::{duplicate, identity, Errno};

/// The waiting side of the epoll backend: nothing, the kernel writes
/// straight into the caller's [`Events`].
#[derive(Debug)]
pub(crate) struct Waiter;

impl Wait for Waiter {
    type Registry = Registry;

    fn open() -> io::Result<(Registry, Waiter)> {
        let epfd = sys_epoll::create()?;
        let registry = Registry {
            own: OwnFds::new(&[epfd.as_raw_fd()]),
            epfd,
            always_ready: Mutex::new(Vec::new()),
            always_ready_len: AtomicUsize::new(0),
        };
        Ok((registry, Waiter))
    }

    /// One wait: one `epoll_wait`. With always-ready files registered, the
    /// ones closed (or whose number now names another file) are forgotten
    /// first.
    #[inline]
    fn select(
        &mut self,
        r: &Registry,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        if r.always_ready_len.load(Ordering::Acquire) != 0 {
            r.forget_closed_files();
        }
        wait_into(r.epfd.as_fd(), &mut events.buf, remaining)
    }
}

/// A descriptor epoll refuses with `EPERM` (a regular file, `/dev/null`):
/// always ready, as `poll(2)` would report it. It is registered in the
/// epoll set through a stand-in that is always ready too, so the kernel
/// reports it like any other descriptor: in its one fair rotation, with
/// its oneshot and edge modes, and a registration from another thread ends
/// a wait in progress.
#[derive(Debug)]
struct AlwaysReady {
    fd: RawFd,
    /// The file behind `fd` at registration (see `sys::identity`): when the
    /// number is closed, or names another file, the registration is
    /// forgotten (by the next wait), as epoll forgets the registrations of
    /// closed files.
    id: (u64, u64),
    /// A duplicate of the registered descriptor, held while registered so
    /// that `id` stays this file's: file systems reuse the inode numbers of
    /// deleted files, and a new file given the old number and inode would
    /// otherwise be taken for the old one.
    file: OwnedFd,
    /// The stand-in (`sys::epoll::always_ready`), registered with the file's
    /// token, interest and trigger. Dropping it closes it, which takes it
    /// out of the epoll set.
    stand_in: OwnedFd,
}

#[derive(Debug)]
pub(crate) struct Registry {
    epfd: OwnedFd,
    always_ready: Mutex<Vec<AlwaysReady>>,
    /// `always_ready.len()`, readable without the lock: the wait looks at
    /// the list only when it is not empty, so it costs nothing otherwise.
    always_ready_len: AtomicUsize,
    /// The numbers of the descriptors above and of the wakers' eventfds:
    /// out of reach of a caller's (stale) number, which epoll_ctl would
    /// otherwise apply to them.
    own: OwnFds,
}

/// The `EPOLL*` bits of a registration: the interest bits are the
/// kernel's values (see `sys::event::bits`), plus the mode.
fn to_epoll(interest: Interest, trigger: Trigger) -> u32 {
    interest.event_bits()
        | match trigger {
            Trigger::Level => 0,
            Trigger::Edge => sys_epoll::ET,
            Trigger::Oneshot => sys_epoll::ONESHOT,
        }
}

fn is_eperm(e: &io::Error) -> bool {
    e.raw_os_error() == Some(Errno::PERM.raw_os_error())
}

impl Registry {
    fn always_ready(&self) -> MutexGuard<'_, Vec<AlwaysReady>> {
        lock_unpoisoned(&self.always_ready)
    }

    /// The always-ready registration of `fd`, if the number still names
    /// the registered file (the kernel, likewise, keys a registration on
    /// the file and the number).
    fn find_always_ready(list: &[AlwaysReady], fd: RawFd) -> Option<usize> {
        let i = list.iter().position(|a| a.fd == fd)?;
        (identity(fd) == Some(list[i].id)).then_some(i)
    }

    /// Forgets the files closed without being deregistered (or whose number
    /// now names another file): the kernel forgets closed files too, and a
    /// closed file must not be reported as ready forever.
    #[cold]
    fn forget_closed_files(&self) {
        let mut list = self.always_ready();
        let before = list.len();
        let mut i = 0;
        while i < list.len() {
            if identity(list[i].fd) == Some(list[i].id) {
                i += 1;
            } else {
                self.release(list.swap_remove(i));
            }
        }
        if list.len() != before {
            self.always_ready_len.store(list.len(), Ordering::Release);
        }
    }

    /// Takes an always-ready registration's stand-in out of the epoll set
    /// and closes its descriptors, their numbers no longer the selector's.
    ///
    /// The stand-in is deleted from the set explicitly rather than left to
    /// its close: epoll drops a descriptor only when its last reference
    /// goes, and a `fork` on another thread (a `Process` being spawned)
    /// holds a reference until the child's `exec`, during which the
    /// stand-in, always ready, would still be reported under the old token
    /// (the model test caught it on epoll, with children spawned on other
    /// threads).
    fn release(&self, a: AlwaysReady) {
        // An error here (the set or the stand-in gone) leaves nothing to
        // take out.
        let _ = sys_epoll::delete(self.epfd.as_fd(), a.stand_in.as_raw_fd());
        self.own.remove(a.stand_in.as_raw_fd());
        self.own.remove(a.file.as_raw_fd());
        drop(a);
    }
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
        self.own.check(fd, "register")?;
        let flags = to_epoll(interest, trigger);
        match sys_epoll::add(self.epfd.as_fd(), fd, token.0 as u64, flags) {
            Err(e) if is_eperm(&e) => {
                let id = identity(fd).ok_or(e)?;
                let mut list = self.always_ready();
                if let Some(i) = list.iter().position(|a| a.fd == fd) {
                    if list[i].id == id {
                        return Err(already_registered(fd));
                    }
                    // The registered file was closed and its number reused.
                    self.release(list.swap_remove(i));
                }
                let file = duplicate(fd)?;
                let stand_in = sys_epoll::always_ready()?;
                sys_epoll::add(
                    self.epfd.as_fd(),
                    stand_in.as_raw_fd(),
                    token.0 as u64,
                    flags,
                )?;
                self.own.add(file.as_raw_fd());
                self.own.add(stand_in.as_raw_fd());
                list.push(AlwaysReady {
                    fd,
                    id,
                    file,
                    stand_in,
                });
                self.always_ready_len.store(list.len(), Ordering::Release);
                Ok(())
            }
            other => other,
        }
    }

    fn reregister(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        self.own.check(fd, "reregister")?;
        let flags = to_epoll(interest, trigger);
        match sys_epoll::modify(self.epfd.as_fd(), fd, token.0 as u64, flags) {
            Err(e) if is_eperm(&e) => {
                let list = self.always_ready();
                let i = Self::find_always_ready(&list, fd).ok_or_else(|| not_registered(fd))?;
                sys_epoll::modify(
                    self.epfd.as_fd(),
                    list[i].stand_in.as_raw_fd(),
                    token.0 as u64,
                    flags,
                )
            }
            other => other,
        }
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        self.own.check(fd, "deregister")?;
        match sys_epoll::delete(self.epfd.as_fd(), fd) {
            Err(e) if is_eperm(&e) => {
                let mut list = self.always_ready();
                let i = Self::find_always_ready(&list, fd).ok_or_else(|| not_registered(fd))?;
                self.release(list.swap_remove(i));
                self.always_ready_len.store(list.len(), Ordering::Release);
                Ok(())
            }
            other => other,
        }
    }

    fn waker(self: &Arc<Self>, token: Token) -> io::Result<Waker> {
        let notifier = Notifier::new()?;
        self.own.add(notifier.as_raw_fd());
        if let Err(e) = sys_epoll::add(
            self.epfd.as_fd(),
            notifier.as_raw_fd(),
            token.0 as u64,
            bits::IN | sys_epoll::ET,
        ) {
            self.own.remove(notifier.as_raw_fd());
            return Err(e);
        }
        Ok(Waker {
            notifier,
            registry: self.clone(),
        })
    }

    fn wake(w: &Waker) -> io::Result<()> {
        w.notifier.notify()
    }

    /// The epoll descriptor: readable while an event is ready for a wait
    /// (always-ready files excepted: they are not in the kernel's set).
    fn as_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(self.epfd.as_fd())
    }
}

/// The epoll waker: an eventfd registered edge-triggered, so a wake needs
/// one write and the wait needs no read to re-arm it (each write is a new
/// edge). Dropping it takes it out of the set (explicitly: a child forked
/// and not yet exec'd can hold the eventfd past its close).
#[derive(Debug)]
pub(crate) struct Waker {
    notifier: Notifier,
    /// Its number is the selector's own while it lives (see `OwnFds`).
    registry: Arc<Registry>,
}

impl Drop for Waker {
    fn drop(&mut self) {
        // Out of the set first (an error: nothing left to take out), then
        // the number is no longer the selector's, before the eventfd closes
        // (after this, with the field), so it is free at once.
        let _ = sys_epoll::delete(self.registry.epfd.as_fd(), self.notifier.as_raw_fd());
        self.registry.own.remove(self.notifier.as_raw_fd());
    }
}
