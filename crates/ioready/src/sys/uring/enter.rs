//! The `io_uring_enter` call itself, and the identity of the calling thread.
//!
//! The enter is made here rather than through `io_uring::Submitter` for two
//! reasons: the registered ring descriptor (`IORING_REGISTER_RING_FDS`) is an
//! index into a *per-thread* table, which `Submitter` keeps only for as long
//! as one `Submitter` value lives (it cannot be kept next to the ring it
//! borrows); and the wait's timeout must be the enter call's own argument
//! (`IORING_ENTER_EXT_ARG`), in nanoseconds, with no timeout SQE.
//!
//! It is `libc::syscall` because the call takes either a descriptor or a
//! registered *index* in the same argument, which rustix's `BorrowedFd`
//! cannot honestly express.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use io_uring::EnterFlags;

/// `struct io_uring_getevents_arg` (uapi, Linux 5.11).
#[repr(C)]
struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

/// `struct __kernel_timespec`.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// One `io_uring_enter(fd, to_submit, min_complete, flags | EXT_ARG, arg)`.
///
/// `fd` is the ring descriptor, or its registered index when `registered`.
/// `timeout` is relative; `None` waits without one. The timeout is clamped
/// (as every wait of this crate) so a huge one never wraps.
///
/// Returns what the kernel returned: the number of SQEs consumed, or, when
/// none was, the wait's outcome (0, or `ETIME`/`EINTR` as errors).
#[inline]
pub(super) fn enter(
    fd: i32,
    registered: bool,
    to_submit: u32,
    min_complete: u32,
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let mut flags = EnterFlags::GETEVENTS;
    if registered {
        flags |= EnterFlags::REGISTERED_RING;
    }
    let Some(timeout) = timeout else {
        // No timeout: no argument block at all (the last two arguments are
        // then a signal mask, none here), so neither we build one nor the
        // kernel copies it in. GETEVENTS always: with DEFER_TASKRUN
        // completions are only posted by an enter that carries it (with
        // min_complete 0 it does not wait).
        // SAFETY: no pointer is passed; the SQEs the call consumes were
        // pushed by `unsafe` calls whose callers vouched for the buffers and
        // descriptors they name. `fd` is our ring (or its index in this
        // thread's registered table, checked by the caller).
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                fd,
                to_submit,
                min_complete,
                flags.bits(),
                std::ptr::null::<libc::c_void>(),
                0usize,
            )
        };
        return if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        };
    };
    let t = crate::timeout::to_timespec(Some(timeout));
    let ts = t.map(|t| KernelTimespec {
        tv_sec: t.tv_sec,
        #[allow(clippy::unnecessary_cast)] // `c_long` elsewhere
        tv_nsec: t.tv_nsec as i64,
    });
    let arg = GeteventsArg {
        sigmask: 0,
        sigmask_sz: 0,
        min_wait_usec: 0,
        ts: ts
            .as_ref()
            .map_or(0, |t| t as *const KernelTimespec as usize as u64),
    };
    flags |= EnterFlags::EXT_ARG;
    // SAFETY: `arg` and the timespec it points to live on this stack frame
    // for the whole call; the kernel only reads them. The SQEs: as above.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd,
            to_submit,
            min_complete,
            flags.bits(),
            &arg as *const GeteventsArg,
            std::mem::size_of::<GeteventsArg>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// A number unique to this thread for the life of the process (unlike a
    /// thread-local's address or a tid, never reused); 0 until first asked.
    /// Const-initialised, so that asking (every enter) is one load.
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

/// The calling thread's number (see [`THREAD`]).
#[inline]
pub(super) fn thread() -> u64 {
    let t = THREAD.with(Cell::get);
    if t != 0 {
        return t;
    }
    first_ask()
}

#[cold]
fn first_ask() -> u64 {
    let t = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
    THREAD.with(|c| c.set(t));
    t
}
