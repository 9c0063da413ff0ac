//! The `poll(2)` registry of Python's `select.poll()`: register descriptors
//! with event masks, then `poll` for `(fd, events)` pairs.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use crate::error::{check_fd, not_registered};
use crate::flags::flag_set;
use crate::sys::poll::{poll_once, PollFd, PollFlags as SysPollFlags};
use crate::timeout;

flag_set! {
    /// The `POLL*` event bits, with the kernel's values. Unknown bits are kept
    /// and passed to the kernel as they are.
    pub struct PollFlags(u16);
    /// Data to read.
    const IN = SysPollFlags::IN.bits();
    /// Priority data to read (TCP urgent data, GPIO sysfs edges).
    const PRI = SysPollFlags::PRI.bits();
    /// Writing will not block.
    const OUT = SysPollFlags::OUT.bits();
    /// Error condition (output only).
    const ERR = SysPollFlags::ERR.bits();
    /// Hang up (output only).
    const HUP = SysPollFlags::HUP.bits();
    /// The descriptor is not open (output only).
    const NVAL = SysPollFlags::NVAL.bits();
    /// Normal data to read.
    const RDNORM = SysPollFlags::RDNORM.bits();
    /// Priority band data to read.
    const RDBAND = SysPollFlags::RDBAND.bits();
    /// Normal data may be written.
    const WRNORM = SysPollFlags::WRNORM.bits();
    /// Priority data may be written.
    const WRBAND = SysPollFlags::WRBAND.bits();
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "android"))))]
impl PollFlags {
    /// The peer shut down writing (Linux `POLLRDHUP`).
    pub const RDHUP: PollFlags = PollFlags(SysPollFlags::RDHUP.bits());
    /// `POLLMSG` (Linux; unused by the kernel, kept for completeness).
    pub const MSG: PollFlags = PollFlags(0x400);
}

/// Python's `select.poll()` object: a `poll(2)` registry of descriptors and
/// `POLL*` masks, answering with `(fd, events)` pairs. For mio-style code
/// (tokens, wakers, a backend chosen for the platform) use
/// [`Selector`](crate::Selector) instead.
///
/// Descriptors are kept by number, as `poll(2)` itself does: the registry
/// only asks the kernel about them and never reads, writes or closes them. A
/// registered descriptor that is closed is reported with
/// [`PollFlags::NVAL`] (it is not dropped silently); unregister it.
///
/// The order of results is the order of registration.
#[derive(Default)]
pub struct Poll {
    fds: Vec<PollFd<'static>>,
    /// The registered mask of `fds[i]` (rustix's `PollFd` does not expose it).
    masks: Vec<PollFlags>,
    index: HashMap<RawFd, usize>,
}

impl std::fmt::Debug for Poll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.fds
                    .iter()
                    .zip(&self.masks)
                    .map(|(p, m)| (p.as_fd().as_raw_fd(), *m)),
            )
            .finish()
    }
}

impl Poll {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of registered descriptors.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// True if nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// Registers `fd` for `events`; a descriptor already registered gets its
    /// mask replaced, as in Python.
    ///
    /// # Errors
    ///
    /// None today; the `Result` is kept so that a future registry limit can
    /// be reported.
    pub fn register(&mut self, fd: impl AsFd, events: PollFlags) -> io::Result<()> {
        self.register_raw(fd.as_fd().as_raw_fd(), events)
    }

    /// [`register`](Self::register) by descriptor number, for callers that
    /// hold only the number (the Python module). The number is not checked
    /// for being open: a closed one is reported with `NVAL` by `poll`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative.
    pub fn register_raw(&mut self, fd: RawFd, events: PollFlags) -> io::Result<()> {
        check_fd(fd)?;
        if let Some(&i) = self.index.get(&fd) {
            self.set(i, fd, events);
        } else {
            self.index.insert(fd, self.fds.len());
            self.fds.push(pollfd(fd, events));
            self.masks.push(events);
        }
        Ok(())
    }

    /// Changes the mask of a registered descriptor.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not registered; `InvalidInput` if negative.
    pub fn modify(&mut self, fd: RawFd, events: PollFlags) -> io::Result<()> {
        check_fd(fd)?;
        let &i = self.index.get(&fd).ok_or_else(|| not_registered(fd))?;
        self.set(i, fd, events);
        Ok(())
    }

    fn set(&mut self, i: usize, fd: RawFd, events: PollFlags) {
        self.fds[i] = pollfd(fd, events);
        self.masks[i] = events;
    }

    /// Removes a descriptor.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not registered; `InvalidInput` if negative.
    pub fn unregister(&mut self, fd: RawFd) -> io::Result<()> {
        check_fd(fd)?;
        let i = self.index.remove(&fd).ok_or_else(|| not_registered(fd))?;
        // Keep registration order: a shift is O(n), like poll(2) itself.
        self.fds.remove(i);
        self.masks.remove(i);
        for slot in self.index.values_mut() {
            if *slot > i {
                *slot -= 1;
            }
        }
        Ok(())
    }

    /// Waits for events and returns the ready `(fd, events)` pairs.
    ///
    /// `timeout`: `None` blocks, zero polls, otherwise at most that long and
    /// never less (nanosecond resolution with `ppoll`; no timeout or a whole
    /// number of milliseconds uses `poll`, which the kernel serves a little
    /// faster).
    /// `EINTR` is retried with the time that remains.
    ///
    /// # Errors
    ///
    /// The errors of `poll(2)` (`ENOMEM`, `EINVAL` if more descriptors are
    /// registered than `RLIMIT_NOFILE` allows).
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<PollReady<'_>> {
        let fds = &mut self.fds;
        let left = timeout::wait(timeout, |remaining| poll_once(fds, remaining))?;
        Ok(PollReady {
            fds: self.fds.iter(),
            left,
        })
    }

    /// One `poll(2)` attempt: `EINTR` is returned as
    /// [`io::ErrorKind::Interrupted`] instead of being retried, so the caller
    /// can act between attempts (use [`Deadline`](crate::Deadline) for the time left).
    ///
    /// # Errors
    ///
    /// As [`poll`](Self::poll), plus `Interrupted`.
    pub fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<PollReady<'_>> {
        let left = poll_once(&mut self.fds, timeout)?;
        Ok(PollReady {
            fds: self.fds.iter(),
            left,
        })
    }
}

fn pollfd(fd: RawFd, events: PollFlags) -> PollFd<'static> {
    crate::sys::poll::pollfd(fd, SysPollFlags::from_bits_retain(events.bits()))
}

/// The ready descriptors of one [`Poll::poll`], as `(fd, events)` pairs.
///
/// Its length is known (`ExactSizeIterator`): `poll(2)` returns how many
/// entries have events, and the iteration stops after the last of them.
pub struct PollReady<'a> {
    fds: std::slice::Iter<'a, PollFd<'static>>,
    /// Entries with events not yet returned (`poll(2)`'s count).
    left: usize,
}

impl Iterator for PollReady<'_> {
    type Item = (RawFd, PollFlags);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        for p in self.fds.by_ref() {
            let revents = p.revents();
            if !revents.is_empty() {
                self.left -= 1;
                return Some((p.as_fd().as_raw_fd(), PollFlags::from_bits(revents.bits())));
            }
        }
        // Not reached while the kernel's count is right; stay consistent
        // with `len()` if it ever is not.
        self.left = 0;
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for PollReady<'_> {}

impl std::fmt::Debug for PollReady<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollReady").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn ready_len_is_the_number_of_pairs() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        let mut poll = Poll::new();
        poll.register(&c, PollFlags::IN).unwrap(); // never ready
        poll.register(&a, PollFlags::IN).unwrap();
        poll.register(&b, PollFlags::OUT).unwrap();
        b.write_all(b"x").unwrap();
        for _ in 0..2 {
            let ready = poll.poll_once(Some(Duration::ZERO)).unwrap();
            assert_eq!(ready.len(), 2);
            let pairs: Vec<_> = ready.collect();
            assert_eq!(
                pairs,
                [
                    (a.as_raw_fd(), PollFlags::IN),
                    (b.as_raw_fd(), PollFlags::OUT)
                ]
            );
        }
        // Whole milliseconds (poll(2) on Linux) and a fraction (ppoll):
        // the same answer.
        for timeout in [Duration::from_millis(5), Duration::from_micros(1500)] {
            let pairs: Vec<_> = poll.poll_once(Some(timeout)).unwrap().collect();
            assert_eq!(pairs.len(), 2);
        }
        let mut ready = poll.poll(Some(Duration::ZERO)).unwrap();
        assert_eq!(ready.len(), 2);
        ready.next();
        assert_eq!(ready.len(), 1);
        ready.next();
        assert_eq!((ready.len(), ready.next()), (0, None));
    }

    #[test]
    fn whole_millisecond_timeouts_wait_at_least_that_long() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut poll = Poll::new();
        poll.register(&a, PollFlags::IN).unwrap();
        for timeout in [Duration::from_millis(20), Duration::from_micros(20_500)] {
            let start = std::time::Instant::now();
            assert_eq!(poll.poll(Some(timeout)).unwrap().len(), 0);
            assert!(start.elapsed() >= timeout);
        }
    }
}
