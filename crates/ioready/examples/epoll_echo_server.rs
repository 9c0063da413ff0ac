//! The echo server on Linux `epoll`, with `ioready::Epoll` (what PyMOTW
//! calls "platform-specific options").
//!
//! Run: `cargo run -p ioready --example epoll_echo_server [ADDR] [N]`
//! (port 0 picks a free port, printed first; with N the server exits after
//! N connections closed).
//!
//! Unlike the select and poll versions, this one answers at once: after a
//! read it writes immediately, and asks epoll for `OUT` only when the
//! kernel did not take everything. That is one wait, one read and one
//! write per message; the `data` of each registration is the descriptor.

// `ioready_epoll`: the build script's name for "this target has epoll"
// (Linux and Android), the cfg under which `ioready::Epoll` exists.
#[cfg(ioready_epoll)]
fn main() -> std::io::Result<()> {
    linux::main()
}

#[cfg(not(ioready_epoll))]
fn main() {
    eprintln!(
        "epoll is not available on this platform; see select_echo_server and poll_echo_server"
    );
}

#[cfg(ioready_epoll)]
mod linux {
    use std::collections::HashMap;
    use std::io::{self, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use ioready::{Epoll, EpollEvents, EpollFlags};

    struct Client {
        stream: TcpStream,
        peer: SocketAddr,
        queue: Vec<u8>,
        eof: bool,
        /// What is registered now, to call `modify` only on a change.
        interest: EpollFlags,
    }

    fn py(a: SocketAddr) -> String {
        format!("('{}', {})", a.ip(), a.port())
    }

    pub fn main() -> io::Result<()> {
        let mut args = std::env::args().skip(1);
        let addr = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
        let stop_after: Option<usize> = args.next().and_then(|n| n.parse().ok());

        let server = TcpListener::bind(&addr)?;
        server.set_nonblocking(true)?;
        let local = server.local_addr()?;
        println!("starting up on {} port {}", local.ip(), local.port());

        let epoll = Epoll::new()?;
        let listen_fd = server.as_raw_fd();
        epoll.add(&server, listen_fd as u64, EpollFlags::IN)?;
        let mut clients: HashMap<i32, Client> = HashMap::new();
        let mut events = EpollEvents::with_capacity(64);
        let mut closed = 0;

        while stop_after != Some(closed) {
            println!("\nwaiting for the next event");
            epoll.wait(&mut events, None)?;
            for (data, flags) in events.iter() {
                let fd = data as i32;
                if fd == listen_fd {
                    // Accept everything that is waiting.
                    loop {
                        match server.accept() {
                            Ok((stream, peer)) => {
                                println!("new connection from {}", py(peer));
                                stream.set_nonblocking(true)?;
                                let cfd = stream.as_raw_fd();
                                epoll.add(&stream, cfd as u64, EpollFlags::IN)?;
                                clients.insert(
                                    cfd,
                                    Client {
                                        stream,
                                        peer,
                                        queue: Vec::new(),
                                        eof: false,
                                        interest: EpollFlags::IN,
                                    },
                                );
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                    }
                    continue;
                }
                let Some(c) = clients.get_mut(&fd) else {
                    continue;
                };
                let mut broken = false;
                // Send what is queued first (OUT was asked for only then).
                if flags.contains(EpollFlags::OUT) && !c.queue.is_empty() {
                    broken |= send(c).is_err();
                }
                if !c.eof && flags.intersects(EpollFlags::IN | EpollFlags::HUP | EpollFlags::ERR) {
                    let mut buf = [0u8; 1024];
                    match c.stream.read(&mut buf) {
                        Ok(0) => c.eof = true,
                        Ok(n) => {
                            println!(
                                "received {:?} from {}",
                                String::from_utf8_lossy(&buf[..n]),
                                py(c.peer)
                            );
                            c.queue.extend_from_slice(&buf[..n]);
                            // Answer now, without waiting for OUT.
                            broken |= send(c).is_err();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => broken = true,
                    }
                }
                if broken || (c.eof && c.queue.is_empty()) {
                    println!("closing {} after reading no data", py(c.peer));
                    epoll.delete(&c.stream)?;
                    clients.remove(&fd);
                    closed += 1;
                    continue;
                }
                // Ask for OUT only while bytes wait; stop reading after EOF.
                let mut want = EpollFlags::empty();
                if !c.eof {
                    want |= EpollFlags::IN;
                }
                if !c.queue.is_empty() {
                    want |= EpollFlags::OUT;
                }
                if want != c.interest {
                    epoll.modify(&c.stream, fd as u64, want)?;
                    c.interest = want;
                }
            }
        }
        Ok(())
    }

    /// One write of the queue; a short write keeps the rest, in order.
    fn send(c: &mut Client) -> io::Result<()> {
        match c.stream.write(&c.queue) {
            Ok(n) => {
                println!(
                    "sending {:?} to {}",
                    String::from_utf8_lossy(&c.queue[..n]),
                    py(c.peer)
                );
                c.queue.drain(..n);
                if c.queue.is_empty() {
                    println!("output queue for {} is empty", py(c.peer));
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}
