//! A whole program on a `Selector`: a listener, a client thread, a timer.
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use ioready::{Events, Interest, Selector, Timer, Token};

const LISTENER: Token = Token(0);
const CONN: Token = Token(1);
const GIVE_UP: Token = Token(2);

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?; // register non-blocking sources
    let addr = listener.local_addr()?;
    // A client, so the program needs nothing else: it sends "hello" and
    // prints what comes back.
    let client = std::thread::spawn(move || -> io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(b"hello")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    });

    // epoll on Linux, kqueue on macOS and the BSDs, poll elsewhere
    // (IOREADY_BACKEND=select|poll|epoll|... picks another).
    let mut selector = Selector::new()?;
    let registry = selector.registry().clone();
    registry.register(&listener, LISTENER, Interest::READABLE)?;
    let timer = Timer::new(&registry, GIVE_UP)?; // a timer is an event too
    timer.set_once(Duration::from_secs(5))?;

    let mut events = Events::with_capacity(64);
    let mut conn: Option<TcpStream> = None;
    loop {
        selector.select(&mut events, None)?; // None: wait until something happens
        for event in &events {
            match event.token() {
                LISTENER => {
                    let (stream, peer) = listener.accept()?;
                    stream.set_nonblocking(true)?;
                    registry.register(&stream, CONN, Interest::READABLE)?;
                    println!("connection from {peer}");
                    conn = Some(stream);
                }
                CONN => {
                    let stream = conn.as_mut().expect("registered after accept");
                    let mut buf = [0; 1024];
                    let n = match stream.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        other => other?,
                    };
                    stream.write_all(&buf[..n].to_ascii_uppercase())?;
                    registry.deregister(&*stream)?; // deregister, then close:
                    drop(conn.take()); // the client reads to the end
                    println!("the client got {:?}", client.join().expect("client")?);
                    return Ok(());
                }
                GIVE_UP => return Err(io::Error::new(io::ErrorKind::TimedOut, "no client")),
                _ => unreachable!("only three tokens are registered"),
            }
        }
    }
}
