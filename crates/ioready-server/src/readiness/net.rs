//! The readiness engine's data path: `send` and `recv` on a connection's
//! socket, made inline.

#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::io;

use rustix::io::Errno;

/// A socket as the data path's shims take it: on Linux its descriptor,
/// borrowed without a call into std (std's `as_fd` is not inlined); on other
/// systems the stream itself.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) type Sock<'a> = std::os::fd::BorrowedFd<'a>;
/// See the Linux definition.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) type Sock<'a> = &'a std::net::TcpStream;

/// One `send` (with `MSG_NOSIGNAL`: a closed peer is an `EPIPE` error, not a
/// signal), retried on `EINTR`. On Linux the system call is made inline
/// (rustix), without std's and libc's wrappers: this is the data path.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn send_retry(sock: Sock<'_>, data: &[u8]) -> Result<usize, Errno> {
    loop {
        match rustix::net::send(sock, data, rustix::net::SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            r => return r,
        }
    }
}

/// One `recv`, retried on `EINTR` (see [`send_retry`]).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn recv_retry(sock: Sock<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match rustix::net::recv(sock, &mut *buf, rustix::net::RecvFlags::empty()) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One write through std, retried on `EINTR` (std ignores `SIGPIPE`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_retry(mut sock: Sock<'_>, data: &[u8]) -> Result<usize, Errno> {
    loop {
        match io::Write::write(&mut sock, data) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO)),
        }
    }
}

/// One read through std, retried on `EINTR`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn recv_retry(mut sock: Sock<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match io::Read::read(&mut sock, buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO)),
        }
    }
}
