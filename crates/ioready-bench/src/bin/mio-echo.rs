//! Echo server on mio, the way mio is meant to be used: edge-triggered,
//! read until `WouldBlock`, keep the bytes the socket did not take, and ask
//! for `WRITABLE` only while some are pending. Single-threaded.
//!
//! Connections live in a slab (a `Vec` indexed by token, with a free list),
//! as tokio does, rather than a `HashMap` (whose SipHash lookup would add
//! about 200 instructions to every event).
//!
//! Usage: `mio-echo [ADDR:PORT]` (default 127.0.0.1:0); prints
//! `listening on ADDR` and runs until killed.

use std::io::{self, ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
    writable: bool,
}

/// Writes `data` (after anything pending); keeps what the socket refuses.
/// Returns false if the connection must be closed.
fn send(c: &mut Conn, data: &[u8]) -> bool {
    let mut data = data;
    if c.pending.is_empty() {
        while !data.is_empty() {
            match c.stream.write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }
    c.pending.extend_from_slice(data);
    true
}

/// Sends what is pending. Returns false if the connection must be closed.
fn flush(c: &mut Conn) -> bool {
    let mut off = 0;
    while off < c.pending.len() {
        match c.stream.write(&c.pending[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    c.pending.drain(..off);
    true
}

/// Asks for WRITABLE exactly while bytes are pending.
fn update_interest(poll: &Poll, token: Token, c: &mut Conn) -> io::Result<()> {
    let want = !c.pending.is_empty();
    if want != c.writable {
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        poll.registry().reregister(&mut c.stream, token, interest)?;
        c.writable = want;
    }
    Ok(())
}

fn main() {
    if let Err(e) = serve() {
        eprintln!("mio-echo: {e}");
        std::process::exit(1);
    }
}

fn serve() -> io::Result<()> {
    // Best effort: without it the run fails later with a clear EMFILE.
    let _ = ioready_server::raise_fd_limit();
    let addr = ioready_bench::listen_addr_from_args()?;
    let mut listener = TcpListener::from_std(ioready_bench::listen(addr, ioready_bench::BACKLOG)?);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    ioready_bench::announce(listener.local_addr()?)?;

    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            let token = event.token();
            if token == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let i = free.pop().unwrap_or(conns.len());
                            let t = Token(i);
                            if poll
                                .registry()
                                .register(&mut stream, t, Interest::READABLE)
                                .is_ok()
                            {
                                let c = Conn {
                                    stream,
                                    pending: Vec::new(),
                                    writable: false,
                                };
                                if i == conns.len() {
                                    conns.push(Some(c));
                                } else {
                                    conns[i] = Some(c);
                                }
                            } else if i < conns.len() {
                                free.push(i);
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => {
                            eprintln!("mio-echo: accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let Some(Some(c)) = conns.get_mut(token.0) else {
                continue;
            };
            let mut alive = true;
            if event.is_writable() {
                alive = flush(c);
            }
            if alive && (event.is_readable() || event.is_read_closed() || event.is_error()) {
                // Edge-triggered: read until WouldBlock.
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            alive = false;
                            break;
                        }
                        Ok(n) => {
                            if !send(c, &buf[..n]) {
                                alive = false;
                                break;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => {
                            alive = false;
                            break;
                        }
                    }
                }
            }
            if alive && update_interest(&poll, token, c).is_err() {
                alive = false;
            }
            if !alive {
                if let Some(mut c) = conns[token.0].take() {
                    let _ = poll.registry().deregister(&mut c.stream);
                    free.push(token.0);
                }
            }
        }
    }
}
