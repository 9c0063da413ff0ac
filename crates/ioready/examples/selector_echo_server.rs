//! An echo server on the portable `Selector`, written the way a
//! level-triggered loop should be: every connection is registered for
//! `READABLE`, and for `WRITABLE` **only while it has output queued**.
//!
//! Run: `cargo run -p ioready --example selector_echo_server [ADDR] [N]`
//! (port 0 picks a free port, printed first; with N the server exits after
//! N connections closed). `IOREADY_BACKEND=poll` (or select, epoll, uring
//! with the feature) runs it on another backend.
//!
//! Why `WRITABLE` comes and goes: the selector is level-triggered, so a
//! descriptor is reported on every wait for as long as it is ready, and a
//! socket is writable nearly always. Registered for `READABLE | WRITABLE`
//! for good, every connection would end every wait at once and the loop
//! would spin at full CPU. Here a reply is written at once; only what the
//! kernel did not take is queued, `reregister` adds `WRITABLE` until the
//! queue is empty, then takes it away again. A client that sends faster
//! than it reads fills the queue up to `CAP`, and then the server stops
//! reading it (interest `WRITABLE` alone) until the queue drains.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use ioready::{Events, Interest, Selector, Token};

const LISTENER: Token = Token(0);
/// Queued bytes past which a connection is not read from until it drains.
const CAP: usize = 1 << 20;

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read and not yet written back.
    queue: Vec<u8>,
    /// The client shut down its side: close once the queue is sent.
    eof: bool,
    /// What is registered now, so `reregister` is called only on a change.
    interest: Interest,
}

impl Conn {
    /// What to wait for: input while there is room for it, `WRITABLE`
    /// only while output waits.
    fn wanted(&self) -> Option<Interest> {
        let read = !self.eof && self.queue.len() < CAP;
        match (read, !self.queue.is_empty()) {
            (true, false) => Some(Interest::READABLE),
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None, // done: close
        }
    }

    /// Reads what is there (until `WouldBlock`), echoing as it goes.
    fn on_readable(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        while !self.eof && self.queue.len() < CAP {
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    println!("received {text:?} from {}", py(self.peer));
                    self.queue.extend_from_slice(&buf[..n]);
                    self.on_writable()?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes the queue until it is empty or the kernel takes no more.
    fn on_writable(&mut self) -> io::Result<()> {
        while !self.queue.is_empty() {
            match self.stream.write(&self.queue) {
                Ok(n) => {
                    self.queue.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// An address as Python prints it, `('127.0.0.1', 55821)`, like the
/// other echo servers of these examples.
fn py(a: SocketAddr) -> String {
    format!("('{}', {})", a.ip(), a.port())
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
    let stop_after: Option<usize> = args.next().and_then(|n| n.parse().ok());

    let listener = TcpListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    println!("starting up on {} port {}", local.ip(), local.port());

    let mut selector = Selector::new()?;
    let registry = selector.registry().clone();
    registry.register(&listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 1;
    let mut closed = 0;
    let mut events = Events::with_capacity(256);

    while !matches!(stop_after, Some(n) if closed >= n) {
        selector.select(&mut events, None)?;
        for event in &events {
            if event.token() == LISTENER {
                // Accept every pending connection (until WouldBlock).
                loop {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            stream.set_nonblocking(true)?;
                            let token = Token(next);
                            next += 1;
                            registry.register(&stream, token, Interest::READABLE)?;
                            println!("new connection from {}", py(peer));
                            let conn = Conn {
                                stream,
                                peer,
                                queue: Vec::new(),
                                eof: false,
                                interest: Interest::READABLE,
                            };
                            conns.insert(token, conn);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // A connection reset before accept: only it is lost.
                        Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let token = event.token();
            let Some(conn) = conns.get_mut(&token) else {
                continue; // closed earlier in this batch
            };
            let mut result = Ok(());
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                result = conn.on_readable();
            }
            if result.is_ok() && event.is_writable() {
                result = conn.on_writable();
            }
            match (result, conn.wanted()) {
                (Ok(()), Some(want)) => {
                    if want != conn.interest {
                        registry.reregister(&conn.stream, token, want)?;
                        conn.interest = want;
                    }
                }
                (outcome, _) => {
                    // Done (or broken): deregister before the stream closes.
                    registry.deregister(&conn.stream)?;
                    let conn = conns.remove(&token).expect("present");
                    match outcome {
                        Ok(()) => println!("closing {}", py(conn.peer)),
                        Err(e) => println!("closing {} after an error: {e}", py(conn.peer)),
                    }
                    closed += 1;
                }
            }
        }
    }
    Ok(())
}
