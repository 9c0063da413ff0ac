//! The io_uring engine's own hazards, in-process over TCP on 127.0.0.1:
//! completion queue overflow, the buffer ring running dry, a closed
//! connection's requests never reaching the next one, and the fallback to
//! the readiness engine where io_uring is refused (a real seccomp filter,
//! in a child process). The scenarios every engine shares are in
//! `server.rs`, which runs them on this engine too.

#![cfg(all(feature = "uring", target_os = "linux"))]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ioready::Backend;
use ioready_server::{
    Config, Conn, Echo, Engine, Server, ServerEvent, Service, Summary, UringConfig, UringStats,
};

fn uring(u: UringConfig) -> Config {
    Config {
        engine: Engine::Uring,
        uring: u,
        ..Config::default()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Runs `service` on the io_uring engine with `config` while `clients`
/// runs; returns the run's summary and the engine's counters.
fn serve<S>(config: Config, service: S, clients: impl FnOnce(SocketAddr)) -> (Summary, UringStats)
where
    S: Service + Send + 'static,
    S::State: Send,
{
    let mut server = Server::bind("127.0.0.1:0", config, service).unwrap();
    assert_eq!(
        server.engine(),
        Engine::Uring,
        "io_uring refused here: {:?}",
        server.fallback()
    );
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        let summary = server.run();
        (summary, server.uring_stats())
    });
    clients(addr);
    stop.shutdown().unwrap();
    let (summary, stats) = thread.join().unwrap();
    (summary.unwrap(), stats.expect("stats after a run"))
}

/// Byte `i` of client `c`'s stream: a lost, repeated or foreign chunk
/// shifts the pattern (251 is prime).
fn byte(c: usize, i: usize) -> u8 {
    ((i + c * 7) % 251) as u8
}

/// `n` clients at once, each sending `len` bytes in 8 KiB writes from a
/// thread while reading the echo, every byte checked.
fn echo_all(addr: SocketAddr, n: usize, len: usize) {
    let threads: Vec<_> = (0..n)
        .map(|c| {
            std::thread::spawn(move || {
                let s = connect(addr);
                let mut w = s.try_clone().unwrap();
                let writer = std::thread::spawn(move || {
                    let data: Vec<u8> = (0..len).map(|i| byte(c, i)).collect();
                    for chunk in data.chunks(8192) {
                        w.write_all(chunk).unwrap();
                    }
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let mut r = s;
                let mut got = Vec::with_capacity(len);
                r.read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                assert_eq!(got.len(), len, "client {c}: bytes lost or added");
                for (i, &b) in got.iter().enumerate() {
                    assert_eq!(b, byte(c, i), "client {c}: byte {i} wrong");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_completion_queue_overflow_loses_no_byte() {
    // 8 completion entries for 64 connections sending at once: each loop's
    // completions overflow the queue; the kernel keeps them and the
    // multishot receives it ended are re-armed.
    let config = uring(UringConfig {
        sq_entries: 8,
        cq_entries: 8,
        ..UringConfig::default()
    });
    let (n, len) = (64, 256 * 1024);
    let (summary, stats) = serve(config, Echo, |addr| echo_all(addr, n, len));
    assert_eq!(summary.bytes_in, (n * len) as u64);
    assert_eq!(summary.bytes_out, (n * len) as u64);
    assert!(
        stats.cq_overflows > 0,
        "the queue never overflowed: {stats:?}"
    );
}

#[test]
fn the_buffer_ring_running_dry_makes_receives_wait_not_lose() {
    // Two 512-byte buffers for 32 busy connections: receives keep finding
    // the ring empty (ENOBUFS) and are re-armed once buffers come back.
    let config = uring(UringConfig {
        buffers: 2,
        buffer_size: 512,
        ..UringConfig::default()
    });
    let (n, len) = (32, 128 * 1024);
    let (summary, stats) = serve(config, Echo, |addr| echo_all(addr, n, len));
    assert_eq!(summary.bytes_out, (n * len) as u64);
    assert!(
        stats.buffers_ran_out > 0,
        "the ring never ran dry: {stats:?}"
    );
    assert!(stats.rearmed >= stats.buffers_ran_out, "{stats:?}");
}

/// Closes a connection as soon as it sends `X`; echoes the others.
struct CloseOnX;

impl Service for CloseOnX {
    type State = ();

    fn on_connect(&mut self, _: &mut Conn<'_>) {}

    fn on_data(&mut self, conn: &mut Conn<'_>, _: &mut (), data: &[u8]) {
        if data.first() == Some(&b'X') {
            conn.close();
        } else {
            conn.send(data);
        }
    }
}

#[test]
fn a_closed_connection_never_reaches_the_next_one() {
    // Round after round, a connection the server closes while its client
    // keeps sending (its receive armed, data in flight), then a new
    // connection, which gets the freed slot and, very likely, the same
    // descriptor number. The new one must see exactly its own echo.
    let (_, stats) = serve(uring(UringConfig::default()), CloseOnX, |addr| {
        for round in 0..100 {
            let mut old = connect(addr);
            old.write_all(b"X").unwrap();
            let flood = {
                let mut w = old.try_clone().unwrap();
                std::thread::spawn(move || {
                    let junk = [b'X'; 4096];
                    // Until the server's lingering close ends the stream.
                    for _ in 0..256 {
                        if w.write_all(&junk).is_err() {
                            break;
                        }
                    }
                })
            };
            // The server shuts its side: end of file (or a reset).
            let mut sink = Vec::new();
            let _ = old.read_to_end(&mut sink);
            flood.join().unwrap();
            drop(old);
            let mut new = connect(addr);
            let msg = format!("round {round}: only mine");
            new.write_all(msg.as_bytes()).unwrap();
            new.shutdown(Shutdown::Write).unwrap();
            let mut got = String::new();
            new.read_to_string(&mut got).unwrap();
            assert_eq!(got, msg, "round {round}");
        }
    });
    assert!(stats.completions > 0);
}

/// Where io_uring is refused, a server asked for it serves on the readiness
/// engine and says why, once. Runs in a child process under a seccomp
/// filter that answers `io_uring_setup` with EPERM, as Docker's does.
// Needs the path-only `ioready-testkit`: see build.rs.
#[cfg(ioready_testkit)]
#[test]
fn refused_by_seccomp_it_falls_back_to_epoll_and_says_why() {
    let out = ioready_testkit::seccomp::rerun_test_denying_io_uring(
        "fallback_child_under_seccomp",
        libc::EPERM,
    )
    .expect("start the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
}

// Needs the path-only `ioready-testkit`: see build.rs.
#[cfg(ioready_testkit)]
#[test]
#[ignore = "runs in a child under seccomp (see refused_by_seccomp_...)"]
fn fallback_child_under_seccomp() {
    assert!(ioready_testkit::seccomp::in_seccomp_child());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let mut server = Server::bind("127.0.0.1:0", uring(UringConfig::default()), Echo)
        .expect("bind falls back, it does not fail")
        .with_observer(move |e: &ServerEvent<'_>| {
            if let ServerEvent::EngineFallback {
                wanted,
                reason,
                backend,
            } = e
            {
                s.lock()
                    .unwrap()
                    .push(format!("{wanted} -> {backend}: {reason}"));
            }
        });
    assert_eq!(server.engine(), Engine::Readiness);
    assert_eq!(server.backend(), Backend::best());
    let why = server.fallback().expect("a reason").to_string();
    assert!(why.contains("seccomp"), "{why}");
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    echo_all(addr, 4, 1 << 20);
    stop.shutdown().unwrap();
    let summary = thread.join().unwrap().unwrap();
    assert_eq!(summary.bytes_out, 4 << 20);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with("uring -> epoll: "), "{seen:?}");
}
