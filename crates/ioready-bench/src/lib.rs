//! Bench-only code of ioready: peer echo servers (mio, tokio) for the
//! comparison, the report and chart tool, and criterion micro-benchmarks in
//! `benches/`. Nothing here is a dependency of the library.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub mod report;

/// The address a peer server listens on: the first argument, or
/// `127.0.0.1:0` (port 0: the kernel picks one).
///
/// # Errors
///
/// `InvalidInput` if the argument is not an address, or there is more than
/// one argument.
pub fn listen_addr_from_args() -> io::Result<SocketAddr> {
    let mut args = std::env::args().skip(1);
    let spec = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());
    if args.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: SERVER [ADDR:PORT] (one argument at most)",
        ));
    }
    spec.to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("address {spec:?}: {e}"),
            )
        })?
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("address {spec:?}: none"),
            )
        })
}

/// A listening TCP socket with `SO_REUSEADDR` and a backlog of `backlog`
/// (the peers' own `bind` helpers use 128, the standard library's value,
/// which makes 10,000 connections stall on dropped SYNs; the C loop and
/// ioready's server use 4096 and 1024).
///
/// # Errors
///
/// Those of `socket`, `bind` and `listen` (`EADDRINUSE`, ...).
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    use rustix::net::{
        bind, listen as listen_on, socket_with, sockopt, AddressFamily, SocketFlags, SocketType,
    };
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    bind(&fd, &addr)?;
    listen_on(&fd, backlog)?;
    let listener = std::net::TcpListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The listen backlog of the peer servers.
pub const BACKLOG: i32 = 4096;

/// Prints the line the bench scripts wait for: `listening on ADDR`.
///
/// # Errors
///
/// Errors of writing to stdout.
pub fn announce(addr: SocketAddr) -> io::Result<()> {
    use std::io::Write;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}
