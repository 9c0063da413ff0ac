//! The epoll backend: registrations live in the kernel; a wait is one
//! `epoll_wait` (or `epoll_pwait2`) straight into the caller's [`Events`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::epoll::{wait_into, Epoll, EpollFlags};
use crate::error::{already_registered, not_registered};
use crate::event::{bits, Events, Interest, Token, Trigger};
use crate::notify::Notifier;

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
    /// The file behind `fd` at registration (see [`identity`]): when the
    /// number is closed, or names another file, the registration is
    /// forgotten, as epoll forgets the registrations of closed files.
    id: (u64, u64),
}

/// The device and inode of the file a descriptor number names, or `None`
/// if the number is not open.
fn identity(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: fstat only looks the number up (a closed one gives EBADF) and
    // the borrow does not outlive the call.
    let st = rustix::fs::fstat(unsafe { BorrowedFd::borrow_raw(fd) }).ok()?;
    #[allow(clippy::unnecessary_cast)] // the field types differ by platform
    Some((st.st_dev as u64, st.st_ino as u64))
}

#[derive(Debug)]
pub(crate) struct Registry {
    epoll: Epoll,
    always_ready: Mutex<Vec<AlwaysReady>>,
    /// `always_ready.len()`, readable without the lock: the wait looks at
    /// the list only when it is not empty, so it costs nothing otherwise.
    always_ready_len: AtomicUsize,
    /// Which side fills `events` first when files are registered: it
    /// alternates, so that neither the files nor the kernel's events starve
    /// the other when more are ready than `events` holds.
    files_first: AtomicBool,
}

fn to_epoll(interest: Interest, trigger: Trigger) -> EpollFlags {
    // The interest bits are the kernel's EPOLL* values (see `event::bits`).
    let mut flags = EpollFlags::from_bits(interest.known().bits());
    match trigger {
        Trigger::Level => {}
        Trigger::Edge => flags |= EpollFlags::ET,
        Trigger::Oneshot => flags |= EpollFlags::ONESHOT,
    }
    flags
}

fn is_eperm(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error())
}

impl Registry {
    pub(super) fn new() -> io::Result<Self> {
        Ok(Registry {
            epoll: Epoll::new()?,
            always_ready: Mutex::new(Vec::new()),
            always_ready_len: AtomicUsize::new(0),
            files_first: AtomicBool::new(true),
        })
    }

    fn always_ready(&self) -> std::sync::MutexGuard<'_, Vec<AlwaysReady>> {
        // Every change to the list is a single push/remove/assignment, so a
        // poisoned lock still holds a consistent list.
        self.always_ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn register(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        match self
            .epoll
            .add_raw(fd, token.0 as u64, to_epoll(interest, trigger))
        {
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

    pub(super) fn reregister(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()> {
        match self
            .epoll
            .modify_raw(fd, token.0 as u64, to_epoll(interest, trigger))
        {
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

    pub(super) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        match self.epoll.delete_raw(fd) {
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
    pub(super) fn select(
        &self,
        events: &mut Events,
        remaining: Option<Duration>,
    ) -> io::Result<usize> {
        if self.always_ready_len.load(Ordering::Acquire) != 0 {
            return self.select_with_files(events, remaining);
        }
        wait_into(self.epoll.as_fd(), &mut events.buf, remaining)
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
        let epfd = self.epoll.as_fd();
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
            let flags = (bits::IN | bits::OUT) & interest_mask(a.interest);
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

fn interest_mask(interest: Interest) -> u32 {
    let mut m = 0;
    if interest.contains(Interest::READABLE) {
        m |= bits::IN;
    }
    if interest.contains(Interest::WRITABLE) {
        m |= bits::OUT;
    }
    m
}

/// The epoll waker: an eventfd registered edge-triggered, so a wake needs
/// one write and the wait needs no read to re-arm it (each write is a new
/// edge). Closing it on drop removes the registration.
#[derive(Debug)]
pub(crate) struct Waker {
    notifier: Notifier,
}

impl Waker {
    pub(super) fn new(registry: &Arc<Registry>, token: Token) -> io::Result<Self> {
        let notifier = Notifier::new()?;
        registry.epoll.add_raw(
            notifier.as_fd().as_raw_fd(),
            token.0 as u64,
            EpollFlags::IN | EpollFlags::ET,
        )?;
        Ok(Waker { notifier })
    }

    pub(super) fn wake(&self) -> io::Result<()> {
        self.notifier.notify()
    }
}
