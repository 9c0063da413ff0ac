//! The socket layer, like redis's `anet.c`: the listener, the accept errors
//! that mean "out of resources", and the data path's `send`/`recv`.

use std::io;
use std::net::{SocketAddr, TcpListener};

use rustix::io::Errno;

/// A socket as the data path's shims take it: on Linux its descriptor,
/// borrowed without a call into std (std's `as_fd` is not inlined); on other
/// systems the stream itself.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) type Sock<'a> = std::os::fd::BorrowedFd<'a>;
/// See the Linux definition.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) type Sock<'a> = &'a std::net::TcpStream;

/// A listener on `addr` with `SO_REUSEADDR` and the given backlog.
pub(crate) fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Whether an accept error means "out of descriptors or memory", after
/// which accepting again at once would fail again (and spin).
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == Errno::MFILE.raw_os_error()
            || code == Errno::NFILE.raw_os_error()
            || code == Errno::NOBUFS.raw_os_error()
            || code == Errno::NOMEM.raw_os_error()
    )
}

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
