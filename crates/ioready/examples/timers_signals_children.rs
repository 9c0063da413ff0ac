//! One loop, four kinds of event: a listening socket, a periodic timer,
//! SIGINT/SIGTERM, and a child process — each registered with a token in
//! the same `Selector`, as a libuv program would use `uv_tcp_t`,
//! `uv_timer_t`, `uv_signal_t` and `uv_process_t`.
//!
//! Run: `cargo run -p ioready --example timers_signals_children [ADDR]`
//!
//! With no argument it drives itself and exits 0: it listens on a free port,
//! ticks every 100 ms, spawns a child that exits after 300 ms, connects to
//! itself once, and after the child's exit sends itself SIGTERM, which ends
//! the loop. With ADDR it serves there (each connection gets a greeting)
//! until Ctrl-C or SIGTERM. `IOREADY_BACKEND=select|poll|epoll` picks the
//! backend.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use ioready::{Events, Interest, Process, Selector, Signal, Signals, Timer, Token};

const LISTENER: Token = Token(0);
const TICK: Token = Token(1);
const SIGNALS: Token = Token(2);
const CHILD: Token = Token(3);

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1);
    let drive_itself = addr.is_none();

    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:0"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    println!("listening on {} port {}", local.ip(), local.port());

    let mut selector = Selector::new()?;
    println!("backend: {}", selector.backend());
    let registry = selector.registry();
    registry.register(&listener, LISTENER, Interest::READABLE)?;

    // Every 100 ms, without drift: a slow turn of the loop shows up as more
    // than one period in `acknowledge`, not as a burst of events.
    let tick = Timer::new(registry, TICK)?;
    tick.set_periodic(Duration::from_millis(100), Duration::from_millis(100))?;

    // SIGINT and SIGTERM become an event; their default action (ending the
    // process at once) is suspended while `signals` lives.
    let signals = Signals::new(registry, SIGNALS, &[Signal::INT, Signal::TERM])?;

    // A child whose exit is an event; only this child is ever reaped.
    let child = Command::new("sh")
        .args(["-c", "sleep 0.3; exit 3"])
        .spawn()?;
    let mut child = Some(Process::new(registry, CHILD, child)?);
    println!("spawned child {}", child.as_ref().map_or(0, |c| c.id()));

    let mut events = Events::with_capacity(64);
    let mut ticks = 0;
    let mut client: Option<TcpStream> = None;
    let give_up = Instant::now() + Duration::from_secs(20);
    'serve: loop {
        selector.select(&mut events, None)?;
        for event in &events {
            match event.token() {
                LISTENER => loop {
                    match listener.accept() {
                        Ok((mut conn, peer)) => {
                            println!("connection from {peer}");
                            // A greeting fits any socket buffer.
                            let _ = conn.write_all(b"hello from the event loop\n");
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                },
                TICK => {
                    let periods = tick.acknowledge()?;
                    ticks += periods;
                    println!("tick {ticks} ({periods} period(s) since the last)");
                    if drive_itself && ticks >= 2 && client.is_none() {
                        // A client of our own, so the listener has something
                        // to report; its greeting is read at the end.
                        client = Some(TcpStream::connect(local)?);
                    }
                    if drive_itself && Instant::now() > give_up {
                        eprintln!("gave up waiting for the child or the signal");
                        std::process::exit(1);
                    }
                }
                SIGNALS => {
                    // Empty if the wait ended for another token only.
                    if let Some((signal, count)) = signals.receive().iter().next() {
                        println!("received {signal} ({count}x): shutting down");
                        break 'serve;
                    }
                }
                CHILD => {
                    let status = match &mut child {
                        Some(process) => process.try_wait()?,
                        None => None,
                    };
                    if let Some(status) = status {
                        println!("child exited: {status}");
                        child = None;
                        if drive_itself {
                            // What Ctrl-C or `kill` would do from outside.
                            rustix::process::kill_process(
                                rustix::process::getpid(),
                                rustix::process::Signal::TERM,
                            )?;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    if let Some(mut c) = client {
        let mut greeting = String::new();
        c.read_to_string(&mut greeting)?;
        print!("our client got: {greeting}");
    }
    // Dropping `signals` puts SIGINT/SIGTERM's default action back; dropping
    // the timer, the process watch and the selector closes their descriptors.
    println!("bye");
    Ok(())
}
