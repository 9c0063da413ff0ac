//! The descriptor numbers a selector opened for itself (its epoll or ring
//! descriptor, its notifier, its wakers' eventfds, epoll's stand-ins for
//! regular files and the duplicates it holds): none of them may be
//! registered, changed or removed through a number the caller passes.
//!
//! A caller has such a number only by mistake: one of its own descriptors,
//! closed without being deregistered, whose number the kernel then gave to
//! the selector's next descriptor. The documented clean-up,
//! `deregister_raw(n)`, must then remove the caller's stale registration (or
//! answer `NotFound`), never the selector's: a waker removed that way would
//! lose its wakes silently.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::lock_unpoisoned;

/// See the module documentation. The numbers fixed for the selector's life
/// are checked without a lock; the others (wakers, stand-ins) under one,
/// only while there are any.
#[derive(Debug, Default)]
pub(crate) struct OwnFds {
    fixed: [Option<RawFd>; 3],
    count: AtomicUsize,
    list: Mutex<Vec<RawFd>>,
}

impl OwnFds {
    /// With the numbers that live as long as the selector.
    pub(crate) fn new(fixed: &[RawFd]) -> OwnFds {
        let mut own = OwnFds::default();
        for (slot, &fd) in own.fixed.iter_mut().zip(fixed) {
            *slot = Some(fd);
        }
        own
    }

    /// A number opened for the selector (before anyone can see it).
    pub(crate) fn add(&self, fd: RawFd) {
        let mut list = lock_unpoisoned(&self.list);
        list.push(fd);
        self.count.store(list.len(), Ordering::Release);
    }

    /// A number given back (before its descriptor is closed).
    pub(crate) fn remove(&self, fd: RawFd) {
        let mut list = lock_unpoisoned(&self.list);
        if let Some(i) = list.iter().position(|&n| n == fd) {
            list.swap_remove(i);
        }
        self.count.store(list.len(), Ordering::Release);
    }

    /// Whether `fd` is one of the selector's own numbers.
    #[inline]
    pub(crate) fn contains(&self, fd: RawFd) -> bool {
        self.fixed.contains(&Some(fd))
            || (self.count.load(Ordering::Acquire) != 0
                && lock_unpoisoned(&self.list).contains(&fd))
    }

    /// `Ok` unless `fd` is the selector's own: then the error a caller's
    /// operation on that number gets.
    #[inline]
    pub(crate) fn check(&self, fd: RawFd, operation: &str) -> io::Result<()> {
        if self.contains(fd) {
            return Err(crate::error::own_descriptor(fd, operation));
        }
        Ok(())
    }
}
