//! PyMOTW's `select_echo_multiclient.py`: several sockets to one echo
//! server, each message sent over all of them, then every echo read.
//!
//! Run: `cargo run -p ioready --example multiclient [ADDR] [SOCKETS]`
//! (ADDR defaults to 127.0.0.1:10000, SOCKETS to 2). Exits 1 if an echo
//! differs from what was sent.
//!
//! This client blocks; it exists to show the *server* handling several
//! connections at once. Unlike the tutorial's single `recv(1024)`, it reads
//! until the whole message is back (TCP may deliver it in pieces).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const MESSAGES: [&str; 3] = ["This is the message. ", "It will be sent ", "in parts."];

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:10000".into());
    let sockets: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2);

    println!("connecting to {addr}");
    let mut socks = Vec::new();
    for _ in 0..sockets {
        let s = TcpStream::connect(&addr)?;
        // Never hang forever on a broken server.
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        socks.push(s);
    }

    let mut all_ok = true;
    for message in MESSAGES {
        // Send on every socket...
        for s in &mut socks {
            println!("{}: sending {message:?}", s.local_addr()?);
            s.write_all(message.as_bytes())?;
        }
        // ...then read every echo, whole.
        for s in &mut socks {
            let mut echo = vec![0u8; message.len()];
            s.read_exact(&mut echo)?;
            let echo = String::from_utf8_lossy(&echo);
            println!("{}: received {echo:?}", s.local_addr()?);
            all_ok &= echo == message;
        }
    }
    // Dropping the sockets closes them; the server sees end of file.
    if !all_ok {
        eprintln!("an echo differed from what was sent");
        std::process::exit(1);
    }
    Ok(())
}
