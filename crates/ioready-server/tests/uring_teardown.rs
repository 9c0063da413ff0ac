//! The io_uring engine stopped in the middle of traffic: every request it
//! has in flight is cancelled and answered before `run` returns, and every
//! descriptor it opened is closed. The only test of its binary: it counts
//! this process's descriptors, which tests running beside it would change.

#![cfg(all(feature = "uring", target_os = "linux"))]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ioready_server::{Config, Echo, Engine, Server, UringConfig};

#[test]
fn shutdown_during_traffic_cancels_everything_and_returns() {
    // Connections with receives, sends and polls in flight when the server
    // stops: `run` returns only after the kernel has answered every
    // request (or a bounded wait), without a leak of descriptors.
    let fds_before = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let start = Instant::now();
    let config = Config {
        engine: Engine::Uring,
        uring: UringConfig::default(),
        shutdown_grace: Duration::from_millis(200),
        output_cap: 64 * 1024,
        ..Config::default()
    };
    let mut server = Server::bind("127.0.0.1:0", config, Echo).unwrap();
    assert_eq!(server.engine(), Engine::Uring, "{:?}", server.fallback());
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    // Clients that send and never read: sends stall, polls armed.
    let clients: Vec<TcpStream> = (0..16)
        .map(|_| {
            // A small receive buffer, so the echo stalls at once.
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_recv_buffer_size(4096).unwrap();
            s.connect(&addr.into()).unwrap();
            let c: TcpStream = s.into();
            c.set_nonblocking(true).unwrap();
            let chunk = [7u8; 65536];
            for _ in 0..64 {
                if (&c).write(&chunk).is_err() {
                    break;
                }
            }
            c
        })
        .collect();
    // The echo has begun on each (one byte arrived).
    for c in &clients {
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut one = [0u8; 1];
        (&*c).read_exact(&mut one).unwrap();
    }
    // Kept open past the server's end.
    std::mem::forget(clients);
    stop.shutdown().unwrap();
    let summary = thread.join().unwrap().unwrap();
    // The handle holds one end of the wake-up socket.
    drop(stop);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(summary.accepted, 16);
    // Every connection had its receive armed (and, when the kernel's send
    // buffer was full, a poll for room): all cancelled before `run` ended.
    assert!(summary.bytes_out > 0, "{summary:?}");
    // The server's descriptors (connections, ring, buffer ring, listener)
    // are all closed; the 16 forgotten client sockets remain.
    let fds_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    assert!(
        fds_after <= fds_before + 16,
        "{fds_before} descriptors before, {fds_after} after: {:?}",
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .map(|e| std::fs::read_link(e.unwrap().path()).ok())
            .collect::<Vec<_>>()
    );
}
