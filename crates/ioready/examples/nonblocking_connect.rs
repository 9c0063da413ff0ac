//! Connecting without blocking, settled with `select` (effbot: "a socket
//! becomes ready for writing when the connection is established after a
//! non-blocking call to connect").
//!
//! Run: `cargo run -p ioready --example nonblocking_connect [HOST:PORT] [TIMEOUT_SECS]`
//! Prints `connected`, `refused`, `failed: ...` or `timed out`; the exit
//! status is 0 only for `connected`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
    let secs: f64 = args.next().and_then(|t| t.parse().ok()).unwrap_or(5.0);
    let addr: SocketAddr = target
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;

    // 1. A non-blocking socket: connect() returns at once with EINPROGRESS.
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return report(Err(e)),
    }

    // 2. Wait until it is writable: the attempt is over, either way.
    let watched = [&sock];
    let none: [&Socket; 0] = [];
    let timeout = Duration::from_secs_f64(secs.clamp(0.0, 3600.0));
    let ready = ioready::select(&none, &watched, &watched, Some(timeout))?;
    if ready.is_empty() {
        println!("timed out");
        std::process::exit(3);
    }

    // 3. SO_ERROR says how it ended: no error means connected.
    report(match sock.take_error()? {
        None => Ok(()),
        Some(e) => Err(e),
    })
}

fn report(result: io::Result<()>) -> io::Result<()> {
    match result {
        Ok(()) => println!("connected"),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            println!("refused");
            std::process::exit(1);
        }
        Err(e) => {
            println!("failed: {e}");
            std::process::exit(4);
        }
    }
    Ok(())
}
