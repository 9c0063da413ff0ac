//! The epoll backend: registrations live in the kernel; a wait is one
//! `epoll_wait` (or `epoll_pwait2`) straight into the caller's [`Events`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::dispatch::Driver;
use crate::error::{already_registered, lock_unpoisoned, not_registered};
use crate::event::{Events, Interest, Token, Trigger};
use crate::sys::epoll::{self as sys_epoll, wait_into};
use crate::sys::event::bits;
use crate::sys::notify::Notifier;
use crate::sys::{identity, Errno};

/// The epoll backend (see [`Driver`]).
#[derive(Debug)]
pub(crate) struct Epoll;

impl Driver for Epoll {
    type Registry = Registry;
    /// Nothing: the kernel writes straight into the caller's `Events`.
    type Waiter = ();
    type Waker = Waker;

    fn new() -> io::Result<(Registry, ())> {
        Ok((Registry::new()?, ()))
    }

    fn register(
        r: &Registry,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        r.register(fd, token, interest, trigger)
    }

    fn reregister(
        r: &Registry,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        r.reregister(fd, token, interest, trigger)
    }

    fn deregister(r: &Registry, fd: RawFd) -> io::Result<()> {
        r.deregister(fd)
    }

    #[inline]
    fn select(
        r: &Registry,
        _: &mut (),
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        r.select(events, timeout)
    }

    fn waker(r: &Arc<Registry>, token: Token) -> io::Result<Waker> {
        Waker::new(r, token)
    }

    fn wake(w: &Waker) -> io::Result<()> {
        w.wake()
    }

    /// The epoll descriptor: readable while an event is ready for a wait
    /// (always-ready files excepted: they are not in the kernel's set).
    fn as_fd(r: &Registry) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(r.epfd.as_fd())
    }
}

/// A descriptor epoll refuses with `EPERM` (a regular file, `/dev/null`):
/// it is always ready, so it is reported without asking the kernel, as
/// `poll(2)` would report it.
#[derive(Debug)]
struct AlwaysReady {
    fd: RawFd,
    token: Token,
    interest: Interest,
    trigger: Trigger,
    armed: bool,
    /// The file behind `fd` at registration (see `sys::identity`): when the
    /// number is closed, or names another file, the registration is
    /// forgotten, as epoll forgets the registrations of closed files.
    id: (u64, u64),
}

#[derive(Debug)]
pub(crate) struct Registry {
    epfd: OwnedFd,
    always_ready: Mutex<Vec<AlwaysReady>>,
    /// `always_ready.len()`, readable without the lock: the wait looks at
    /// the list only when it is not empty, so it costs nothing otherwise.
    always_ready_len: AtomicUsize,
    /// Which side fills `events` first when files are registered: it
    /// alternates, so that neither the files nor the kernel's events starve
    /// the other when more are ready than `events` holds.
    files_first: AtomicBool,
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
    fn new() -> io::Result<Self> {
        Ok(Registry {
            epfd: sys_epoll::create()?,
            always_ready: Mutex::new(Vec::new()),
            always_ready_len: AtomicUsize::new(0),
            files_first: AtomicBool::new(true),
        })
    }

    fn always_ready(&self) -> MutexGuard<'_, Vec<AlwaysReady>> {
        lock_unpoisoned(&self.always_ready)
    }

    fn register(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        match sys_epoll::add(
            self.epfd.as_fd(),
            fd,
            token.0 as u64,
            to_epoll(interest, trigger),
        ) {
            Err(e) if is_eperm(&e) => {
                let id = identity(fd).ok_or(e)?;
                let mut list = self.always_ready();
                if let Some(i) = list.iter().position(|a| a.fd == fd) {
                    if list[i].id == id {
                        return Err(already_registered(fd));
                    }
                    // The registered file was closed and its number reused.
                    list.swap_remove(i);
                }
                list.push(AlwaysReady {
                    fd,
                    token,
                    interest,
                    trigger,
                    armed: true,
                    id,
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
        match sys_epoll::modify(
            self.epfd.as_fd(),
            fd,
            token.0 as u64,
            to_epoll(interest, trigger),
        ) {
            Err(e) if is_eperm(&e) => {
                let mut list = self.always_ready();
                let a = list
                    .iter_mut()
                    .find(|a| a.fd == fd)
                    .ok_or_else(|| not_registered(fd))?;
                a.token = token;
                a.interest = interest;
                a.trigger = trigger;
                a.armed = true;
                Ok(())
            }
            other => other,
        }
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        match sys_epoll::delete(self.epfd.as_fd(), fd) {
            Err(e) if is_eperm(&e) => {
                let mut list = self.always_ready();
                let i = list
                    .iter()
                    .position(|a| a.fd == fd)
                    .ok_or_else(|| not_registered(fd))?;
                list.swap_remove(i);
                self.always_ready_len.store(list.len(), Ordering::Release);
                Ok(())
            }
            other => other,
        }
    }

    /// One wait. With always-ready files registered, they are reported first
    /// and the kernel is only polled (timeout zero) for the rest.
    #[inline]
    fn select(&self, events: &mut Events, remaining: Option<Duration>) -> io::Result<usize> {
        if self.always_ready_len.load(Ordering::Acquire) != 0 {
            return self.select_with_files(events, remaining);
        }
        wait_into(self.epfd.as_fd(), &mut events.buf, remaining)
    }

    /// A wait with always-ready files registered: files and kernel events
    /// take turns at filling `events` first; the kernel is only polled
    /// (timeout zero) unless nothing at all is ready.
    #[cold]
    fn select_with_files(
        &self,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        let epfd = self.epfd.as_fd();
        let files_first = self.files_first.fetch_xor(true, Ordering::Relaxed);
        if files_first {
            self.report_always_ready(events);
        } else {
            wait_into(epfd, &mut events.buf, Some(Duration::ZERO))?;
            self.report_always_ready(events);
        }
        if events.is_empty() {
            // Nothing ready anywhere (the files are disarmed): block.
            wait_into(epfd, &mut events.buf, remaining)?;
        } else if files_first {
            wait_into(epfd, &mut events.buf, Some(Duration::ZERO))?;
        }
        Ok(events.len())
    }

    #[cold]
    fn report_always_ready(&self, events: &mut Events) {
        let mut list = self.always_ready();
        // Forget the files closed without being deregistered (or whose
        // number now names another file): the kernel forgets closed files
        // too, and a closed file must not be reported as ready forever.
        let before = list.len();
        list.retain(|a| identity(a.fd) == Some(a.id));
        if list.len() != before {
            self.always_ready_len.store(list.len(), Ordering::Release);
        }
        let mut full_at = None;
        for (i, a) in list.iter_mut().enumerate() {
            let flags = (bits::IN | bits::OUT) & a.interest.event_bits();
            if !a.armed || flags == 0 {
                continue;
            }
            if !events.push(a.token, flags) {
                full_at = Some(i);
                break;
            }
            // Edge: readiness "arrived" once, at registration. Oneshot: until
            // reregister.
            if a.trigger != Trigger::Level {
                a.armed = false;
            }
        }
        // The buffer is full: the files that did not fit come first next
        // time, so that none is starved by the ones before it.
        if let Some(i) = full_at {
            list.rotate_left(i);
        }
    }
}

/// The epoll waker: an eventfd registered edge-triggered, so a wake needs
/// one write and the wait needs no read to re-arm it (each write is a new
/// edge). Closing it on drop removes the registration.
#[derive(Debug)]
pub(crate) struct Waker {
    notifier: Notifier,
}

impl Waker {
    fn new(registry: &Registry, token: Token) -> io::Result<Self> {
        let notifier = Notifier::new()?;
        sys_epoll::add(
            registry.epfd.as_fd(),
            notifier.as_raw_fd(),
            token.0 as u64,
            bits::IN | sys_epoll::ET,
        )?;
        Ok(Waker { notifier })
    }

    fn wake(&self) -> io::Result<()> {
        self.notifier.notify()
    }
}
