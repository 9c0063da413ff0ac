//! Helpers shared by the server's test binaries.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Writes 64 KiB chunks of `byte` to `c` without reading until the server
/// stops taking them (no progress for 300 ms), and returns how many bytes
/// were sent. Fails if more than 256 MiB go through: the server never
/// pushed back. `c` is left blocking.
pub fn send_until_pushback(c: &TcpStream, byte: u8, what: &str) -> usize {
    c.set_nonblocking(true).unwrap();
    let chunk = vec![byte; 64 * 1024];
    let mut sent = 0usize;
    let mut stalled_since = Instant::now();
    while stalled_since.elapsed() < Duration::from_millis(300) {
        match (&*c).write(&chunk) {
            Ok(n) => {
                sent += n;
                stalled_since = Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 256 << 20, "{what}: the server never pushed back");
    }
    c.set_nonblocking(false).unwrap();
    sent
}

/// The io_uring engine, where this build has it (Linux, the feature
/// `uring`: without the feature `Engine::Uring` does not exist).
#[allow(dead_code)] // not every test binary asks
pub fn uring_engine() -> Option<ioready_server::Engine> {
    #[cfg(all(feature = "uring", target_os = "linux"))]
    return Some(ioready_server::Engine::Uring);
    #[cfg(not(all(feature = "uring", target_os = "linux")))]
    None
}
