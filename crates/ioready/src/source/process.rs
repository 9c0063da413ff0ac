//! [`Process`]: a child process whose exit is an event.

use std::io;
use std::os::fd::AsFd;
use std::process::{Child, ExitStatus};

use super::Registration;
use crate::event::Token;
use crate::selector::Registry;
use crate::source::Signal;
use crate::sys;

/// A child process whose exit is an event with its token, in the same wait
/// as socket events, on every backend; then [`try_wait`](Self::try_wait)
/// collects its status.
///
/// * **Only this child is reaped**, by its own identity (`waitid` on a
///   pidfd on Linux, `waitpid` of its PID elsewhere); other children are
///   left alone, and no `SIGCHLD` handler is installed.
/// * **No PID-reuse race**: on Linux a pidfd names the process, not the
///   number; elsewhere the unreaped zombie keeps its PID from being reused
///   until `try_wait` collects it.
/// * **Level-triggered**: once the child has exited, every wait reports the
///   token until `try_wait` returns the status; then the registration ends
///   (an exited process has nothing more to report).
///
/// Dropping a `Process` neither kills nor reaps the child (as with
/// [`std::process::Child`]); an exited child not collected stays a zombie
/// until this process exits.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use ioready::{Events, Process, Selector, Token};
///
/// let mut selector = Selector::new()?;
/// let child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let mut process = Process::new(selector.registry(), Token(4), child)?;
/// let mut events = Events::with_capacity(8);
/// let status = loop {
///     selector.select(&mut events, Some(Duration::from_secs(10)))?;
///     if let Some(status) = process.try_wait()? {
///         break status;
///     }
/// };
/// assert_eq!(status.code(), Some(3));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Process {
    // Declared first: deregistered before the descriptor closes.
    registration: Registration,
    inner: sys::Process,
    pid: u32,
    child: Option<Child>,
    status: Option<ExitStatus>,
}

impl Process {
    /// Watches `child`, registered with `registry` under `token`. The
    /// `Child` is kept (its pipes stay usable through
    /// [`child_mut`](Self::child_mut)); do not `wait` on it yourself, or the
    /// status is gone before `try_wait` can collect it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the child was already reaped (a `wait` or a
    /// successful `try_wait` on it); `EMFILE`/`ENFILE`; the registration's
    /// errors; `Unsupported` on a platform with neither pidfd nor kqueue.
    pub fn new(registry: &Registry, token: Token, child: Child) -> io::Result<Process> {
        let mut process = Process::from_pid(registry, token, child.id())?;
        process.child = Some(child);
        Ok(process)
    }

    /// Watches the child process `pid`, which must be a child of this
    /// process that nobody has reaped (waited for) yet.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `pid` names no unreaped child of this process (not
    /// a child, already reaped, no such process); otherwise as
    /// [`new`](Self::new).
    pub fn from_pid(registry: &Registry, token: Token, pid: u32) -> io::Result<Process> {
        let inner = sys::Process::open(pid)?;
        let registration = Registration::new(registry, inner.as_fd(), token)?;
        Ok(Process {
            registration,
            inner,
            pid,
            child: None,
            status: None,
        })
    }

    /// The process ID.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// The exit status if the child has exited (collecting it the first
    /// time: the zombie is reaped and the token is no longer reported), or
    /// `None` if it still runs. Later calls return the same status.
    ///
    /// # Errors
    ///
    /// `ECHILD` if someone else reaped the child (a `wait` on the `Child`,
    /// a `SIGCHLD` handler calling `waitpid(-1)`).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.inner.try_wait()?;
            if self.status.is_some() {
                self.registration.deregister();
            }
        }
        Ok(self.status)
    }

    /// Sends `signal` to the child (on Linux through the pidfd, so never to
    /// a process that reused its PID).
    ///
    /// # Errors
    ///
    /// `InvalidInput` once the status was collected (there is no process
    /// any more); `ESRCH`, `EPERM` from the kernel.
    pub fn kill(&self, signal: Signal) -> io::Result<()> {
        if self.status.is_some() {
            return Err(crate::error::invalid_input(
                "kill: the process has exited and was reaped",
            ));
        }
        self.inner.kill(signal.raw())
    }

    /// The `std::process::Child` given to [`new`](Self::new), for its
    /// `stdin`/`stdout`/`stderr` (`None` after [`from_pid`](Self::from_pid)).
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }
}
