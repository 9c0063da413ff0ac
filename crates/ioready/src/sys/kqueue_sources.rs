//! Timers and child processes on macOS and the BSDs: each is a filter
//! (`EVFILT_TIMER`, `EVFILT_PROC` with `NOTE_EXIT`) in a small kqueue of its
//! own. A kqueue descriptor is readable while it holds a pending event, so
//! every backend (kqueue itself, poll, select) waits on it like any other
//! descriptor, and the front is the same as on Linux.
//!
//! **Not compiled by this project's CI** (Linux only): written against
//! rustix's kqueue API and the kqueue(2) manual pages, like the kqueue
//! selector backend. Known difference from Linux: a periodic timer whose
//! first expiry differs from its period starts as a one-shot timer and is
//! re-armed as periodic when that first expiry is acknowledged, so its later
//! expirations count from the acknowledgement (kqueue has no "first, then
//! every" timer; NOTE_ABSTIME is not on every BSD).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::Duration;

use rustix::event::kqueue::{self, Event as KEvent, EventFilter, EventFlags, ProcessEvents};
use rustix::process::{Pid, WaitOptions};

const TIMER_IDENT: isize = 1;

fn new_kqueue() -> io::Result<OwnedFd> {
    let kq = kqueue::kqueue()?;
    rustix::io::fcntl_setfd(&kq, rustix::io::FdFlags::CLOEXEC)?;
    Ok(kq)
}

fn apply(kq: &OwnedFd, change: KEvent) -> io::Result<()> {
    // SAFETY: the change names a timer or a process, never a descriptor.
    unsafe { kqueue::kevent_timespec(kq, &[change], &mut [], None)? };
    Ok(())
}

/// Takes the pending events without waiting; returns how many there were
/// and the sum of their `data` (a timer's expirations). No allocation: the
/// events land in a small array on the stack.
fn take(kq: &OwnedFd) -> io::Result<(usize, i64)> {
    let mut buf = [const { std::mem::MaybeUninit::<KEvent>::uninit() }; 2];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: empty change list; the output is our own buffer.
    let (events, _) = unsafe { kqueue::kevent_timespec(kq, &[], &mut buf[..], Some(&zero))? };
    Ok((events.len(), events.iter().map(|e| e.data()).sum()))
}

#[derive(Debug)]
pub(crate) struct Timer {
    kq: OwnedFd,
    /// The period still to be armed once a different first expiry fires.
    deferred_period: Mutex<Option<Duration>>,
}

impl Timer {
    pub(crate) fn new() -> io::Result<Timer> {
        Ok(Timer {
            kq: new_kqueue()?,
            deferred_period: Mutex::new(None),
        })
    }

    fn arm(&self, after: Duration, oneshot: bool) -> io::Result<()> {
        let mut flags = EventFlags::ADD | EventFlags::ENABLE;
        if oneshot {
            flags |= EventFlags::ONESHOT;
        }
        let after = after.max(Duration::from_nanos(1));
        apply(
            &self.kq,
            KEvent::new(
                EventFilter::Timer {
                    ident: TIMER_IDENT as _,
                    timer: Some(after),
                },
                flags,
                std::ptr::null_mut(),
            ),
        )
    }

    pub(crate) fn set(&self, first: Duration, period: Option<Duration>) -> io::Result<()> {
        self.cancel()?;
        let mut deferred = self
            .deferred_period
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match period {
            Some(p) if p == first => self.arm(p, false),
            Some(p) => {
                *deferred = Some(p);
                self.arm(first, true)
            }
            None => self.arm(first, true),
        }
    }

    pub(crate) fn cancel(&self) -> io::Result<()> {
        *self
            .deferred_period
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        let del = KEvent::new(
            EventFilter::Timer {
                ident: TIMER_IDENT as _,
                timer: None,
            },
            EventFlags::DELETE,
            std::ptr::null_mut(),
        );
        match apply(&self.kq, del) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {}
            other => other?,
        }
        // Deleting the filter also drops its pending event.
        Ok(())
    }

    pub(crate) fn acknowledge(&self) -> io::Result<u64> {
        let (n, expirations) = take(&self.kq)?;
        if n > 0 {
            let mut deferred = self
                .deferred_period
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(p) = deferred.take() {
                self.arm(p, false)?;
            }
        }
        Ok(expirations.max(0) as u64)
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.kq.as_fd()
    }
}

#[derive(Debug)]
pub(crate) struct Process {
    kq: OwnedFd,
    pid: Pid,
}

impl Process {
    /// Watches the child `pid`. A PID cannot be reused before its zombie is
    /// reaped, so watching our own unreaped child is race-free; `waitpid`
    /// with `WNOHANG` checks that it is one (`ECHILD` otherwise).
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
        let kq = new_kqueue()?;
        let add = KEvent::new(
            EventFilter::Proc {
                pid: raw,
                flags: ProcessEvents::EXIT,
            },
            EventFlags::ADD,
            std::ptr::null_mut(),
        );
        match apply(&kq, add) {
            Ok(()) => {}
            // Already exited: the zombie is still ours to reap; make the
            // kqueue readable with a timer that fires at once.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {
                apply(
                    &kq,
                    KEvent::new(
                        EventFilter::Timer {
                            ident: TIMER_IDENT as _,
                            timer: Some(Duration::from_nanos(1)),
                        },
                        EventFlags::ADD | EventFlags::ONESHOT,
                        std::ptr::null_mut(),
                    ),
                )?;
            }
            Err(e) => return Err(e),
        }
        // Is it our child? WNOWAIT leaves the status to be collected later
        // (OpenBSD has no waitid: there the first try_wait says ECHILD).
        #[cfg(not(target_os = "openbsd"))]
        {
            use rustix::process::{waitid, WaitId, WaitIdOptions};
            let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
            if let Err(rustix::io::Errno::CHILD) = waitid(WaitId::Pid(raw), options) {
                return Err(not_child());
            }
        }
        Ok(Process { kq, pid: raw })
    }

    pub(crate) fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        match rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG)? {
            Some((_, status)) => {
                let _ = take(&self.kq);
                Ok(Some(ExitStatus::from_raw(status.as_raw())))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn kill(&self, signal: i32) -> io::Result<()> {
        let sig = rustix::process::Signal::from_named_raw(signal)
            .ok_or_else(|| crate::error::invalid_input(&format!("signal: unknown {signal}")))?;
        // Safe from PID reuse while unreaped (the zombie holds the PID).
        rustix::process::kill_process(self.pid, sig)?;
        Ok(())
    }
}

impl AsFd for Process {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.kq.as_fd()
    }
}
