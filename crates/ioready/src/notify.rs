//! A descriptor that another thread can make readable: an `eventfd` on
//! Linux, a non-blocking pipe elsewhere. Used by the [`Waker`](crate::Waker)
//! and, on the select and poll backends, to interrupt a wait when the
//! registrations change.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// See the module documentation. Both ends are close-on-exec and
/// non-blocking, and are closed on drop.
#[derive(Debug)]
pub(crate) struct Notifier {
    /// The end that becomes readable (the eventfd itself on Linux).
    read: OwnedFd,
    /// The end that is written to (`None` on Linux: same descriptor).
    #[cfg_attr(ioready_epoll, allow(dead_code))]
    write: Option<OwnedFd>,
}

impl Notifier {
    #[cfg(ioready_epoll)]
    pub(crate) fn new() -> io::Result<Self> {
        use rustix::event::{eventfd, EventfdFlags};
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Notifier {
            read: fd,
            write: None,
        })
    }

    #[cfg(not(ioready_epoll))]
    pub(crate) fn new() -> io::Result<Self> {
        use rustix::fs::{fcntl_setfl, OFlags};
        use rustix::io::{fcntl_setfd, FdFlags};
        // pipe2 is missing on macOS; set the flags one by one.
        let (read, write) = rustix::pipe::pipe()?;
        for fd in [&read, &write] {
            fcntl_setfd(fd, FdFlags::CLOEXEC)?;
            fcntl_setfl(fd, OFlags::NONBLOCK)?;
        }
        Ok(Notifier {
            read,
            write: Some(write),
        })
    }

    /// Makes the read end readable. Never blocks: when the counter (or pipe)
    /// is full, it is readable already, so the notification is not lost.
    pub(crate) fn notify(&self) -> io::Result<()> {
        #[cfg(ioready_epoll)]
        let r = rustix::io::write(&self.read, &1u64.to_ne_bytes());
        #[cfg(not(ioready_epoll))]
        let r = rustix::io::write(self.write.as_ref().expect("pipe notifier"), &[1u8]);
        match r {
            Ok(_) => Ok(()),
            Err(rustix::io::Errno::AGAIN) => self.on_full(),
            Err(e) => Err(e.into()),
        }
    }

    /// The eventfd counter is at its maximum (after 2^64 - 2 notifications
    /// without a drain, when edge-triggered): reset it and notify again, so
    /// that an edge-triggered registration sees a fresh edge.
    #[cfg(ioready_epoll)]
    fn on_full(&self) -> io::Result<()> {
        self.drain();
        match rustix::io::write(&self.read, &1u64.to_ne_bytes()) {
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A full pipe is readable: nothing to do.
    #[cfg(not(ioready_epoll))]
    fn on_full(&self) -> io::Result<()> {
        Ok(())
    }

    /// The number of the descriptor that [`notify`](Self::notify) writes to,
    /// for a signal handler, which must write with one `write(2)` and no
    /// lock (the eventfd itself on Linux, the pipe's write end elsewhere).
    pub(crate) fn raw_write_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.write.as_ref().unwrap_or(&self.read).as_raw_fd()
    }

    /// Consumes every pending notification (the read end stops being readable).
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        // One read empties an eventfd; a pipe may need several.
        while let Ok(n) = rustix::io::read(&self.read, &mut buf) {
            if cfg!(ioready_epoll) || n < buf.len() {
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
