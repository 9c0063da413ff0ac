//! The stream transport's system calls on its socket.

use std::io;
use std::os::fd::RawFd;

/// `recv(fd, buf, 0)`: bytes read, 0 at end of stream.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `fd` is a
    // number the kernel checks (EBADF if not open).
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `send(fd, data, MSG_NOSIGNAL)`: bytes sent (a peer gone is `EPIPE`, not
/// a signal).
pub(crate) fn send(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    send_flags(fd, data, libc::MSG_NOSIGNAL)
}

/// `send(fd, data, MSG_NOSIGNAL | MSG_DONTWAIT)`: as [`send`], and never
/// waits even on a socket left blocking. The io_uring engine's transports
/// take sockets the kernel sends on for them, which need not be
/// non-blocking; what they send directly must not stall the loop.
pub(crate) fn send_nowait(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    send_flags(fd, data, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
}

fn send_flags(fd: RawFd, data: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `data` is valid for reads of `data.len()` bytes.
    let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Whether an error only means "not now" (`EAGAIN`, `EINTR`): asyncio's
/// `(BlockingIOError, InterruptedError)`.
pub(crate) fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
