//! Synchronous cancellation by `user_data` (`IORING_REGISTER_SYNC_CANCEL`,
//! Linux 6.0), through any descriptor of the ring and from any thread: for
//! the selector's deregistration, which must let go of the file at once (a
//! poll request holds its file, and a socket closed while it is held is
//! only really closed later, by then perhaps with unread input, which makes
//! the kernel send a reset instead of the end of file).

use std::io;
use std::os::fd::BorrowedFd;

use rustix::io_uring::{io_uring_register, IoringRegisterOp};

/// `struct io_uring_sync_cancel_reg`.
#[repr(C)]
struct SyncCancelReg {
    addr: u64,
    fd: i32,
    flags: u32,
    timeout: [i64; 2],
    opcode: u8,
    pad: [u8; 7],
    pad2: [u64; 3],
}

/// Cancels the request whose `user_data` is `user_data` and returns once
/// the kernel has cancelled it (its completion, `-ECANCELED`, is posted by
/// the task that submitted it, at once if that is the caller). `Ok` also
/// when there is no such request (it completed already).
///
/// # Errors
///
/// The kernel's (`EINVAL` before Linux 6.0).
pub(crate) fn sync_cancel(ring: BorrowedFd<'_>, user_data: u64) -> io::Result<()> {
    let reg = SyncCancelReg {
        addr: user_data,
        fd: -1,
        flags: 0, // match by user_data
        timeout: [-1, -1],
        opcode: 0,
        pad: [0; 7],
        pad2: [0; 3],
    };
    // SAFETY: `reg` is a valid `io_uring_sync_cancel_reg` read by the
    // kernel during the call; nr_args is 1.
    let r = unsafe {
        io_uring_register(
            ring,
            IoringRegisterOp::RegisterSyncCancel,
            (&reg as *const SyncCancelReg).cast(),
            1,
        )
    };
    match r {
        Ok(_) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
