//! PyMOTW's `select_echo_slow_client.py`: a client that pauses after each
//! message, so a server with a timeout has idle turns in between.
//!
//! Run: `cargo run -p ioready --example slow_client [ADDR] [PAUSE_SECS]`
//! (ADDR defaults to 127.0.0.1:10000, PAUSE_SECS to 1, as in the tutorial).
//! Exits 1 if the echo differs from what was sent.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
    let pause: f64 = args.next().and_then(|p| p.parse().ok()).unwrap_or(1.0);
    let pause = Duration::from_secs_f64(pause.clamp(0.0, 60.0));

    println!("connecting to {addr}");
    let mut sock = TcpStream::connect(&addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    std::thread::sleep(pause);

    let messages = ["Part one of the message.", "Part two of the message."];
    let expected = messages.concat();
    for message in messages {
        println!("sending {message:?}");
        sock.write_all(message.as_bytes())?;
        std::thread::sleep(pause.mul_f64(1.5));
    }

    // Read the echo back in small pieces, as the tutorial does (recv(16)).
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let mut buf = [0u8; 16];
        let n = sock.read(&mut buf)?;
        if n == 0 {
            break; // the server closed early
        }
        println!("received {:?}", String::from_utf8_lossy(&buf[..n]));
        received.extend_from_slice(&buf[..n]);
    }
    println!("closing socket");
    if received != expected.as_bytes() {
        eprintln!("the echo differed from what was sent");
        std::process::exit(1);
    }
    Ok(())
}
