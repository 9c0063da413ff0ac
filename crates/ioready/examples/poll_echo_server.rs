//! PyMOTW's `select_poll_echo_server.py`, with `ioready::Poll`.
//!
//! Run: `cargo run -p ioready --example poll_echo_server [ADDR] [N]`
//! (port 0 picks a free port, printed first; with N the server exits after
//! N connections closed).
//!
//! `poll` keeps a registry: each socket is registered once with the events
//! it wants (`READ_ONLY`), switched to `READ_WRITE` while it has bytes
//! queued and back when the queue is empty. `poll()` returns
//! `(fd, events)` pairs, so a map from descriptor to client is needed.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ioready::{Poll, PollFlags};

const READ_ONLY: PollFlags = PollFlags::from_bits(PollFlags::IN.bits() | PollFlags::PRI.bits());
const READ_WRITE: PollFlags = PollFlags::from_bits(READ_ONLY.bits() | PollFlags::OUT.bits());

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    queue: Vec<u8>,
    /// The client is done sending: close once the queue is sent.
    eof: bool,
}

fn py(a: SocketAddr) -> String {
    format!("('{}', {})", a.ip(), a.port())
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
    let stop_after: Option<usize> = args.next().and_then(|n| n.parse().ok());

    let server = TcpListener::bind(&addr)?;
    server.set_nonblocking(true)?;
    let local = server.local_addr()?;
    println!("starting up on {} port {}", local.ip(), local.port());

    let mut poller = Poll::new();
    poller.register(&server, READ_ONLY)?;
    // The tutorial's `fd_to_socket`.
    let mut clients: HashMap<RawFd, Client> = HashMap::new();
    let mut closed = 0;

    while stop_after != Some(closed) {
        println!("\nwaiting for the next event");
        // The tutorial's TIMEOUT = 1000 ms; Rust says it as a Duration.
        let events: Vec<(RawFd, PollFlags)> = poller.poll(Some(Duration::from_secs(1)))?.collect();

        for (fd, flags) in events {
            if fd == server.as_raw_fd() {
                // The listening socket is readable: accept.
                let (stream, peer) = server.accept()?;
                println!("new connection from {}", py(peer));
                stream.set_nonblocking(true)?;
                poller.register(&stream, READ_ONLY)?;
                clients.insert(
                    stream.as_raw_fd(),
                    Client {
                        stream,
                        peer,
                        queue: Vec::new(),
                        eof: false,
                    },
                );
                continue;
            }
            let Some(c) = clients.get_mut(&fd) else {
                continue;
            };
            let mut close = false;
            if !c.eof
                && flags
                    .intersects(PollFlags::IN | PollFlags::PRI | PollFlags::HUP | PollFlags::ERR)
            {
                let mut buf = [0u8; 1024];
                match c.stream.read(&mut buf) {
                    Ok(0) if c.queue.is_empty() => {
                        println!("closing {} after reading no data", py(c.peer));
                        close = true;
                    }
                    Ok(0) => {
                        // Unlike the tutorial, finish sending first; stop reading.
                        c.eof = true;
                        poller.modify(fd, PollFlags::OUT)?;
                    }
                    Ok(n) => {
                        println!(
                            "received {:?} from {}",
                            String::from_utf8_lossy(&buf[..n]),
                            py(c.peer)
                        );
                        c.queue.extend_from_slice(&buf[..n]);
                        // Now we want to know when it can be written to.
                        poller.modify(fd, READ_WRITE)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        println!("closing {} after error: {e}", py(c.peer));
                        close = true;
                    }
                }
            }
            if !close && flags.contains(PollFlags::OUT) {
                if c.queue.is_empty() {
                    println!("output queue for {} is empty", py(c.peer));
                    poller.modify(fd, READ_ONLY)?;
                } else {
                    match c.stream.write(&c.queue) {
                        Ok(n) => {
                            println!(
                                "sending {:?} to {}",
                                String::from_utf8_lossy(&c.queue[..n]),
                                py(c.peer)
                            );
                            // A short write keeps the rest queued, in order.
                            c.queue.drain(..n);
                            if c.eof && c.queue.is_empty() {
                                println!("closing {} after reading no data", py(c.peer));
                                close = true;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => close = true,
                    }
                }
            }
            if close {
                // Unregister before the descriptor is closed (by the drop).
                poller.unregister(fd)?;
                clients.remove(&fd);
                closed += 1;
            }
        }
    }
    Ok(())
}
