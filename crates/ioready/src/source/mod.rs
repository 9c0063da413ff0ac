//! Events that are not sockets: [`Timer`], [`Signals`] and [`Process`].
//!
//! Each is registered with a [`Registry`] under a [`Token`] when it is
//! created, like a [`Waker`](crate::Waker), so its events arrive among the
//! socket events of the same wait, on every backend. Each is
//! level-triggered: reported by every wait until acknowledged (a timer's
//! [`acknowledge`](Timer::acknowledge), the signals'
//! [`receive`](Signals::receive), the process's
//! [`try_wait`](Process::try_wait)). Dropping one deregisters it and closes
//! its descriptor.
//!
//! Under the hood each is a descriptor every backend can wait on: on Linux a
//! `timerfd`, a `pidfd`, and for signals an `eventfd` written by a
//! `sigaction` handler (why not `signalfd`: see [`Signals`]); on macOS and
//! the BSDs a private kqueue with `EVFILT_TIMER` or `EVFILT_PROC` (not
//! compiled by this project's CI) and the same handler for signals.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use crate::event::{Interest, Token};
use crate::selector::Registry;

mod process;
mod signals;
mod timer;

pub use process::Process;
pub use signals::{ReceivedSignals, Signal, Signals};
pub use timer::Timer;

/// A source's registration: made at creation, undone on drop (before the
/// source's descriptor closes, as the field order of each source ensures),
/// or earlier by [`Registration::deregister`].
#[derive(Debug)]
struct Registration {
    registry: Registry,
    fd: RawFd,
    active: bool,
}

impl Registration {
    /// Registers `fd` for reading, level-triggered.
    fn new(registry: &Registry, fd: BorrowedFd<'_>, token: Token) -> io::Result<Registration> {
        registry.register(fd, token, Interest::READABLE)?;
        Ok(Registration {
            registry: registry.clone(),
            fd: fd.as_raw_fd(),
            active: true,
        })
    }

    /// Ends the registration (once; later calls do nothing).
    fn deregister(&mut self) {
        if std::mem::take(&mut self.active) {
            // Cannot fail for a descriptor we registered and still hold open.
            let _ = self.registry.deregister_raw(self.fd);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.deregister();
    }
}
