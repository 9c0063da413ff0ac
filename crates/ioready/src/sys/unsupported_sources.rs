//! Timers and child processes where the platform has neither `timerfd` and
//! `pidfd` (Linux) nor kqueue filters (macOS, the BSDs): creating one says
//! `Unsupported`. Signals need neither and work on every Unix.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitStatus;
use std::time::Duration;

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what}: not available on this platform (needs timerfd/pidfd or kqueue)"),
    )
}

/// Never constructed: `new` fails.
#[derive(Debug)]
pub(crate) enum Timer {}

impl Timer {
    pub(crate) fn new() -> io::Result<Timer> {
        Err(unsupported("Timer"))
    }
    pub(crate) fn set(&self, _first: Duration, _period: Option<Duration>) -> io::Result<()> {
        match *self {}
    }
    pub(crate) fn cancel(&self) -> io::Result<()> {
        match *self {}
    }
    pub(crate) fn acknowledge(&self) -> io::Result<u64> {
        match *self {}
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match *self {}
    }
}

/// Never constructed: `open` fails.
#[derive(Debug)]
pub(crate) enum Process {}

impl Process {
    pub(crate) fn open(_pid: u32) -> io::Result<Process> {
        Err(unsupported("Process"))
    }
    pub(crate) fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        match *self {}
    }
    pub(crate) fn kill(&self, _signal: i32) -> io::Result<()> {
        match *self {}
    }
}

impl AsFd for Process {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match *self {}
    }
}
