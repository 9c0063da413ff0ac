//! effbot's `select-example-1.py`: an RFC 868 time server that waits on its
//! listening socket with a one-second `select` timeout.
//!
//! Run: `cargo run -p ioready --example time_server [ADDR] [N]`
//! (ADDR defaults to 127.0.0.1:8037; port 0 picks a free port, printed
//! first; with N the server exits after N connections).
//! Try it: `cargo run -p ioready-cli -- time-client --addr ADDR`.

use std::io::{self, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from 1900-01-01 (RFC 868's epoch) to 1970-01-01 (Unix's).
const TIME1970: u64 = 2_208_988_800;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8037".into());
    let stop_after: Option<usize> = args.next().and_then(|n| n.parse().ok());

    let service = TcpListener::bind(&addr)?;
    let local = service.local_addr()?;
    println!("listening on {} port {}", local.ip(), local.port());

    let mut served = 0;
    while stop_after != Some(served) {
        // Wait at most one second for the listener to become readable.
        let is_readable = [&service];
        let none: [&TcpListener; 0] = [];
        let ready = ioready::select(&is_readable, &none, &none, Some(Duration::from_secs(1)))?;
        if ready.is_empty() {
            println!("still waiting");
            continue;
        }
        let (mut channel, info) = service.accept()?;
        println!("connection from ('{}', {})", info.ip(), info.port());
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Four bytes, big-endian; the 32-bit field wraps in 2036.
        let t = (unix + TIME1970) as u32;
        // Four bytes fit any socket buffer, so a blocking write is fine here
        // (the tutorial's remark); a failed one only loses this client.
        let _ = channel.write_all(&t.to_be_bytes());
        drop(channel); // disconnect
        served += 1;
    }
    Ok(())
}
