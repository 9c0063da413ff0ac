//! The socket layer both engines share, like redis's `anet.c`: the
//! listener, and the accept errors that mean "out of resources". (The
//! readiness engine's data-path `send`/`recv` are in `readiness/net.rs`.)

use std::io;
use std::net::{SocketAddr, TcpListener};

use rustix::io::Errno;

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
