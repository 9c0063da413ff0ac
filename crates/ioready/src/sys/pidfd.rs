//! Child processes on Linux: a `pidfd`, readable once the process has
//! exited, which every backend can wait on; its status is collected with
//! `waitid(P_PIDFD)`, which reaps that process and no other.
//!
//! A pidfd names one process, not a number: once it is open, the PID being
//! reused by another process cannot redirect it. Opening it from a number is
//! safe as long as the number still names our unreaped child (a zombie keeps
//! its PID); [`Process::open`] checks that with a non-reaping `waitid`
//! (`WNOWAIT`), so a PID that was reaped elsewhere and reused by a process
//! that is not our child is refused.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use rustix::process::{
    pidfd_open, pidfd_send_signal, waitid, Pid, PidfdFlags, Signal, WaitId, WaitIdOptions,
    WaitIdStatus,
};

/// An open pidfd (close-on-exec, as the kernel always makes them).
#[derive(Debug)]
pub(crate) struct Process {
    fd: OwnedFd,
}

impl Process {
    /// Opens the child `pid`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a PID that is not a positive number or that names
    /// no unreaped child of this process (`ESRCH` and `ECHILD` map to it);
    /// `EMFILE`/`ENFILE`; `ENOSYS` before Linux 5.3.
    pub(crate) fn open(pid: u32) -> io::Result<Process> {
        let not_child = || {
            crate::error::invalid_input(&format!(
                "pid: {pid} is not an unreaped child of this process"
            ))
        };
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(not_child)?;
        let fd = match pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::SRCH) => return Err(not_child()),
            Err(e) => return Err(e.into()),
        };
        // Is it our child? WNOWAIT leaves the status to be collected later.
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        match waitid(WaitId::PidFd(fd.as_fd()), options) {
            Ok(_) => Ok(Process { fd }),
            Err(rustix::io::Errno::CHILD) => Err(not_child()),
            Err(e) => Err(e.into()),
        }
    }

    /// Collects the exit status if the process has exited (reaping it), or
    /// `None` if it still runs.
    ///
    /// # Errors
    ///
    /// `ECHILD` if it was reaped by someone else (for example a `wait` on
    /// the `std::process::Child`, or a `SIGCHLD` handler calling
    /// `waitpid(-1)`).
    pub(crate) fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
        loop {
            return match waitid(WaitId::PidFd(self.fd.as_fd()), options) {
                Ok(Some(status)) => Ok(Some(to_exit_status(&status))),
                Ok(None) => Ok(None),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => Err(e.into()),
            };
        }
    }

    /// Sends `signal` to the process (never to a process that reused its
    /// PID).
    ///
    /// # Errors
    ///
    /// `ESRCH` once it has been reaped; `InvalidInput` for a signal number
    /// the platform does not name; `EPERM`.
    pub(crate) fn kill(&self, signal: i32) -> io::Result<()> {
        let sig = match Signal::from_named_raw(signal) {
            Some(sig) => sig,
            // rustix names the standard signals only; the real-time ones
            // (what `Signal::realtime` makes) are the range libc leaves to
            // applications.
            None if crate::sys::signal::realtime_range()
                .is_some_and(|(min, max)| (min..=max).contains(&signal)) =>
            {
                // SAFETY: `signal` is in SIGRTMIN..=SIGRTMAX as libc reports
                // them: a valid signal number, outside the ones libc reserves
                // for itself (below its SIGRTMIN).
                unsafe { Signal::from_raw_unchecked(signal) }
            }
            None => {
                return Err(crate::error::invalid_input(&format!(
                    "signal: {signal} is not a signal number"
                )))
            }
        };
        pidfd_send_signal(&self.fd, sig)?;
        Ok(())
    }
}

/// `waitid`'s answer as the status `wait(2)` would have given, which is what
/// `ExitStatus::from_raw` takes: the exit code in bits 8..16, or the signal
/// in bits 0..7 with 0x80 for a core dump.
fn to_exit_status(s: &WaitIdStatus) -> ExitStatus {
    let raw = if let Some(code) = s.exit_status() {
        (code & 0xff) << 8
    } else if let Some(sig) = s.terminating_signal() {
        (sig & 0x7f) | if s.dumped() { 0x80 } else { 0 }
    } else {
        0
    };
    ExitStatus::from_raw(raw)
}

impl AsFd for Process {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
