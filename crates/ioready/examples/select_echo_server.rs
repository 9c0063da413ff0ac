//! PyMOTW's `select_echo_server.py`, with `ioready::select`.
//!
//! Run: `cargo run -p ioready --example select_echo_server [ADDR] [N]`
//! (ADDR defaults to 127.0.0.1:10000; port 0 picks a free port, printed in
//! the first line; with N the server exits after N connections closed).
//! Then: `cargo run -p ioready --example multiclient ADDR`.
//!
//! What the Python original gets wrong is right here: a short `send()` no
//! longer drops the rest of a message (each client keeps one byte queue and
//! only what was sent leaves it), and a client that closes its side still
//! gets its last echo before the server closes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// One connected client (the tutorial keeps these in `inputs`, `outputs` and
/// `message_queues`).
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes waiting to be echoed.
    queue: Vec<u8>,
    /// The client closed its side: read no more, close once `queue` is sent.
    eof: bool,
    /// Something failed: close now.
    broken: bool,
}

/// Python prints addresses as `('127.0.0.1', 55821)`.
fn py(a: SocketAddr) -> String {
    format!("('{}', {})", a.ip(), a.port())
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
    let stop_after: Option<usize> = args.next().and_then(|n| n.parse().ok());

    // A non-blocking listening socket: accept() must never block the loop.
    let server = TcpListener::bind(&addr)?;
    server.set_nonblocking(true)?;
    let local = server.local_addr()?;
    println!("starting up on {} port {}", local.ip(), local.port());

    let mut clients: Vec<Client> = Vec::new();
    let mut closed = 0;
    while stop_after != Some(closed) {
        // The tutorial's lists: read from the server and every client still
        // sending; write to clients with queued bytes; watch both for errors.
        let mut inputs: Vec<BorrowedFd<'_>> = vec![server.as_fd()];
        inputs.extend(clients.iter().filter(|c| !c.eof).map(|c| c.stream.as_fd()));
        let outputs: Vec<BorrowedFd<'_>> = clients
            .iter()
            .filter(|c| !c.queue.is_empty())
            .map(|c| c.stream.as_fd())
            .collect();

        println!("\nwaiting for the next event");
        let ready = ioready::select(&inputs, &outputs, &inputs, None)?;
        // select answers with our own values; keep their numbers, so that
        // `clients` can change below.
        let readable: Vec<RawFd> = ready.readable().map(|fd| fd.as_raw_fd()).collect();
        let writable: Vec<RawFd> = ready.writable().map(|fd| fd.as_raw_fd()).collect();
        drop(ready);
        drop((inputs, outputs));

        // A readable listening socket: a connection to accept.
        if readable.contains(&server.as_raw_fd()) {
            let (stream, peer) = server.accept()?;
            println!("new connection from {}", py(peer));
            stream.set_nonblocking(true)?;
            clients.push(Client {
                stream,
                peer,
                queue: Vec::new(),
                eof: false,
                broken: false,
            });
        }

        for c in clients.iter_mut() {
            let fd = c.stream.as_raw_fd();
            if readable.contains(&fd) {
                let mut buf = [0u8; 1024];
                match c.stream.read(&mut buf) {
                    // Readable with nothing to read: the client is done sending.
                    Ok(0) => c.eof = true,
                    Ok(n) => {
                        let data = &buf[..n];
                        println!(
                            "received {:?} from {}",
                            String::from_utf8_lossy(data),
                            py(c.peer)
                        );
                        c.queue.extend_from_slice(data);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => c.broken = true,
                }
            }
            if writable.contains(&fd) && !c.queue.is_empty() {
                match c.stream.write(&c.queue) {
                    Ok(n) => {
                        println!(
                            "sending {:?} to {}",
                            String::from_utf8_lossy(&c.queue[..n]),
                            py(c.peer)
                        );
                        // Only what was sent leaves the queue: nothing is lost.
                        c.queue.drain(..n);
                        if c.queue.is_empty() {
                            println!("output queue for {} is empty", py(c.peer));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => c.broken = true,
                }
            }
        }

        // Close (by dropping) the clients that are done.
        let before = clients.len();
        clients.retain(|c| {
            let done = c.broken || (c.eof && c.queue.is_empty());
            if done {
                println!("closing {} after reading no data", py(c.peer));
            }
            !done
        });
        closed += before - clients.len();
    }
    Ok(())
}
