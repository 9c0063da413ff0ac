//! A descriptor that another thread can make readable: an `eventfd` on
//! epoll platforms, a non-blocking pipe elsewhere. Used by the
//! [`Waker`](crate::Waker) and, on the select and poll backends, to
//! interrupt a wait when the registrations change.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// See the module documentation. Every descriptor is close-on-exec and
/// non-blocking, and is closed on drop.
#[derive(Debug)]
pub(crate) struct Notifier {
    /// The end that becomes readable (the eventfd itself, or the pipe's read
    /// end).
    read: OwnedFd,
    /// The end that is written to: the pipe's write end (absent with an
    /// eventfd, which is written through `read`).
    #[cfg(not(ioready_epoll))]
    write: OwnedFd,
}

#[cfg(ioready_epoll)]
impl Notifier {
    pub(crate) fn new() -> io::Result<Self> {
        use rustix::event::{eventfd, EventfdFlags};
        let read = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Notifier { read })
    }

    /// Makes the eventfd readable. Never blocks: at the counter's maximum
    /// (after 2^64 - 2 notifications without a drain, when edge-triggered)
    /// it is reset and written again, so that an edge-triggered
    /// registration sees a fresh edge.
    pub(crate) fn notify(&self) -> io::Result<()> {
        match rustix::io::write(&self.read, &1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            Err(rustix::io::Errno::AGAIN) => {
                self.drain();
                match rustix::io::write(&self.read, &1u64.to_ne_bytes()) {
                    Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The number of the descriptor that [`notify`](Self::notify) writes
    /// to, for a signal handler, which must write with one `write(2)` and
    /// no lock: the eventfd itself, which takes a native-endian `u64`.
    pub(crate) fn raw_write_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Consumes every pending notification: one read empties an eventfd.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.read, &mut buf);
    }
}

#[cfg(not(ioready_epoll))]
impl Notifier {
    pub(crate) fn new() -> io::Result<Self> {
        use rustix::fs::{fcntl_setfl, OFlags};
        use rustix::io::{fcntl_setfd, FdFlags};
        // pipe2 is missing on macOS; set the flags one by one.
        let (read, write) = rustix::pipe::pipe()?;
        for fd in [&read, &write] {
            fcntl_setfd(fd, FdFlags::CLOEXEC)?;
            fcntl_setfl(fd, OFlags::NONBLOCK)?;
        }
        Ok(Notifier { read, write })
    }

    /// Makes the read end readable. Never blocks: a full pipe is readable
    /// already, so the notification is not lost.
    pub(crate) fn notify(&self) -> io::Result<()> {
        match rustix::io::write(&self.write, &[1u8]) {
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The number of the descriptor that [`notify`](Self::notify) writes
    /// to, for a signal handler, which must write with one `write(2)` and
    /// no lock: the pipe's write end, which takes any byte.
    pub(crate) fn raw_write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }

    /// Consumes every pending notification (the read end stops being
    /// readable); a pipe may need several reads.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = rustix::io::read(&self.read, &mut buf) {
            if n < buf.len() {
                break;
            }
        }
    }
}

impl AsFd for Notifier {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

impl AsRawFd for Notifier {
    fn as_raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}
